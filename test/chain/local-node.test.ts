import { expect } from "chai";
import { createServer } from "node:net";
import { LocalNodeError, startLocalNode } from "../../offchain/chain/local-node.js";

describe("local hardhat node: a taken port", function () {
  this.timeout(60_000);

  it("an explicit port that is taken fails with hardhat's EADDRINUSE in the details (the words a probed port's retry looks for)", async function () {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const addr = blocker.address();
    const port = typeof addr === "object" && addr ? addr.port : 0;
    try {
      await startLocalNode({ port });
      expect.fail("started on a taken port");
    } catch (e) {
      expect(e).to.be.instanceOf(LocalNodeError);
      expect((e as LocalNodeError).code).to.equal("LOCAL_NODE_START");
      expect((e as LocalNodeError).details).to.match(/EADDRINUSE/);
    } finally {
      blocker.close();
    }
  });
});
