// The chain-backed RegistryView against NodeRegistry on the in-process Hardhat chain,
// driving real hosts: admission from on-chain status, live eviction on a slash.
import { expect } from "chai";
import { zeroAddress } from "viem";
import { ROLES } from "../../offchain/chain/deploy.js";
import { ChainRegistryView } from "../../offchain/chain/registry-view.js";
import { NodeStatus } from "../../offchain/core/protocol.js";
import { MessageType } from "../../offchain/p2p/topics.js";
import type { ReceivedMessage } from "../../offchain/p2p/host.js";
import { deployFixture, registerNode, type Fixture } from "../contracts/fixture.js";
import { startHost, stopAll, waitFor, type Member } from "./cluster.js";

describe("p2p with the chain-backed RegistryView (NodeRegistry on Hardhat)", function () {
  this.timeout(120_000);
  let f: Fixture;
  let view: ChainRegistryView;
  const members: Member[] = [];
  const ids: bigint[] = [];
  const keys: Awaited<ReturnType<typeof registerNode>>["keys"][] = [];

  before(async () => {
    f = await deployFixture();
    const gov = f.governor.account;
    await f.registry.write.grantRole([ROLES.VERDICT, gov.address], { account: gov });
    await f.registry.write.grantRole([ROLES.SLASHER, gov.address], { account: gov });
    for (let i = 0; i < 4; i++) {
      const r = await registerNode(f, 100 + i);
      ids.push(r.id);
      keys.push(r.keys);
    }
    // Nodes 0..2 attested Trusted; node 3 stays Registered.
    for (const id of ids.slice(0, 3)) await f.registry.write.applyVerdict([id, true], { account: gov });
    view = new ChainRegistryView({ publicClient: f.publicClient, address: f.registry.address, pollingIntervalMs: 100 });
  });

  after(async () => {
    await stopAll(members);
    view?.close();
  });

  it("reads a node's standing by gateway, and null for unknown keys", async () => {
    const r = await view.getNodeByGateway(keys[0]!.gateway.address);
    expect(r).to.deep.include({ nodeId: ids[0], status: NodeStatus.Trusted, banned: false });
    expect(await view.getNodeByGateway(zeroAddress)).to.equal(null);
    expect((await view.getNodeByGateway(keys[3]!.gateway.address))?.status).to.equal(NodeStatus.Registered);
  });

  it("admits registered nodes with the scope their on-chain status gives, and delivers", async () => {
    for (let i = 0; i < 4; i++) members.push(await startHost(view, keys[i]!.gateway, ids[i]!));
    for (let i = 1; i < 4; i++) for (let j = 0; j < i; j++) await members[i]!.host.dial(members[j]!.host.multiaddrs[0]!);
    await waitFor(() => members.every((m) => m.host.admittedPeers().length === 3), 10_000, "all admitted");
    const newcomer = members[3]!.host.peerId.toString();
    expect(members[0]!.host.admissions.get(newcomer)?.scope).to.equal("attestation");
    expect(members[0]!.host.admissions.get(members[1]!.host.peerId.toString())?.scope).to.equal("full");
    const inbox: ReceivedMessage[] = [];
    members[1]!.host.subscribe("pbft", (m) => inbox.push(m));
    members[0]!.host.subscribe("pbft", () => undefined);
    await waitFor(() => members[0]!.host.subscribers("pbft").includes(members[1]!.host.peerId.toString()), 10_000, "subscription");
    await new Promise((r) => setTimeout(r, 400));
    await members[0]!.host.publish({ type: MessageType.Pbft, round: 1n, payload: new Uint8Array([1]) });
    await waitFor(() => inbox.length === 1, 10_000, "delivery");
    expect(inbox[0]!.envelope.sender).to.equal(ids[0]);
  });

  it("disconnects a node live when it is slashed on chain", async () => {
    const victim = members[2]!;
    const gov = f.governor.account;
    await f.registry.write.slash([ids[2]!, 1000, 0, zeroAddress, 86_400], { account: gov });
    expect((await view.getNodeByGateway(keys[2]!.gateway.address))?.banned).to.equal(true);
    await waitFor(
      () => [0, 1, 3].every((i) => members[i]!.host.libp2p.getConnections(victim.host.peerId).length === 0),
      15_000,
      "slashed node disconnected",
    );
    expect(members[0]!.host.admissions.isDenied(victim.host.peerId.toString())).to.equal(true);
  });

  it("widens a Registered node's scope when its verdict lands on chain", async () => {
    await f.registry.write.applyVerdict([ids[3]!, true], { account: f.governor.account });
    const peer = members[3]!.host.peerId.toString();
    await waitFor(() => members[0]!.host.admissions.get(peer)?.scope === "full", 15_000, "scope widened");
  });
});
