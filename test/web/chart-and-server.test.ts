import { expect } from "chai";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startWebServer } from "../../offchain/cli/web-server.js";
import { reputationChartSvg } from "../../web/src/chart.js";

describe("dashboard pieces", () => {
  describe("reputation chart (hand-drawn SVG)", () => {
    it("draws one step polyline and one label per node", () => {
      const svg = reputationChartSvg([
        { label: "node 1", points: [{ block: 10, value: 0 }, { block: 20, value: 500 }] },
        { label: "node 2", points: [{ block: 10, value: 0 }, { block: 30, value: 250 }] },
      ]);
      expect(svg.startsWith("<svg")).to.equal(true);
      expect(svg.match(/<polyline/g)).to.have.length(2);
      expect(svg).to.contain(">node 2</text>");
      expect(svg).to.contain("block 10");
      expect(svg).to.contain("block 30");
    });

    it("says so when there is no data, and escapes labels", () => {
      expect(reputationChartSvg([])).to.contain("no reputation changes yet");
      const svg = reputationChartSvg([{ label: "<script>", points: [{ block: 1, value: 1 }] }]);
      expect(svg).not.to.contain("<script>");
      expect(svg).to.contain("&#60;script&#62;");
    });
  });

  describe("static server", () => {
    let dir: string;
    let server: Server;
    let url: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "tm-web-"));
      await writeFile(join(dir, "index.html"), "<!doctype html><title>t</title>");
      await writeFile(join(dir, "app.js"), "console.log(1)");
      ({ server, url } = await startWebServer({ port: 0, root: dir, config: () => ({ rpc: "http://127.0.0.1:8545", deployment: null }) }));
    });
    after(async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    });

    it("serves files with their type, /config.json, and index.html for unknown paths", async () => {
      const js = await fetch(`${url}app.js`);
      expect(js.headers.get("content-type")).to.contain("text/javascript");
      expect(await (await fetch(`${url}config.json`)).json()).to.deep.equal({ rpc: "http://127.0.0.1:8545", deployment: null });
      expect(await (await fetch(`${url}nodes/7`)).text()).to.contain("<title>t</title>");
    });

    it("refuses paths that climb out of the root", async () => {
      const r = await fetch(`${url}..%2f..%2f..%2fetc%2fpasswd`);
      expect(r.status).to.equal(403);
    });
  });
});
