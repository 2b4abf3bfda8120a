import { expect } from "chai";
import { isTrustmeshError } from "../../offchain/core/errors.js";
import { parseGatewayConfig } from "../../offchain/relayer/config.js";
import { DEFAULT_MAX_ACTIVE_ROUNDS } from "../../offchain/relayer/verifier.js";

const minimal = () => ({
  name: "gw-1",
  dataDir: "state",
  chain: { rpcUrl: "http://127.0.0.1:8545", chainId: 31337, deployment: "deployment.json" },
  keys: { gatewayKeystore: "gateway.keystore.json", vrfKeystore: "vrf.keystore.json" },
  p2p: {} as Record<string, unknown>,
  agent: { port: 7001, publicKey: "ab".repeat(32) },
  ipfs: { kind: "embedded", dir: "ipfs" },
  attestation: {},
});

function configError(json: unknown): string {
  try {
    parseGatewayConfig(json, "/etc/trustmesh");
    return "accepted";
  } catch (e) {
    expect(isTrustmeshError(e, "CONFIG_INVALID"), String(e)).to.equal(true);
    return (e as Error).message;
  }
}

describe("gateway config", () => {
  it("fills defaults and resolves relative paths against the config's directory", () => {
    const c = parseGatewayConfig(minimal(), "/etc/trustmesh");
    expect(c.dataDir).to.equal("/etc/trustmesh/state");
    expect(c.p2p).to.deep.equal({ listen: ["/ip4/127.0.0.1/tcp/0"], bootstrap: [], gossipSignaturePolicy: "StrictNoSign" });
    expect(c.keys.passwordEnv).to.equal("TRUSTMESH_KEYSTORE_PASSWORD");
    expect(c.onFailedVerdict).to.equal("report");
  });

  it("takes gossipsub's StrictSign policy when asked, and refuses any other value", () => {
    const strict = minimal();
    strict.p2p.gossipSignaturePolicy = "StrictSign";
    expect(parseGatewayConfig(strict, "/").p2p.gossipSignaturePolicy).to.equal("StrictSign");
    const bad = minimal();
    bad.p2p.gossipSignaturePolicy = "strict";
    expect(configError(bad)).to.match(/p2p.gossipSignaturePolicy must be "StrictSign" or "StrictNoSign"/);
  });

  it("limits the rounds worked on at once: DEFAULT_MAX_ACTIVE_ROUNDS by default, at least 1", () => {
    expect(parseGatewayConfig(minimal(), "/").attestation.maxActiveRounds).to.equal(DEFAULT_MAX_ACTIVE_ROUNDS);
    const more = minimal() as ReturnType<typeof minimal> & { attestation: Record<string, unknown> };
    more.attestation.maxActiveRounds = 12;
    expect(parseGatewayConfig(more, "/").attestation.maxActiveRounds).to.equal(12);
    more.attestation.maxActiveRounds = 0;
    expect(configError(more)).to.match(/attestation.maxActiveRounds must be an integer >= 1/);
  });

  it("names the field at fault", () => {
    const noPort = minimal() as Record<string, unknown>;
    noPort.agent = { publicKey: "ab".repeat(32) };
    expect(configError(noPort)).to.match(/agent.port must be an integer/);
    const badKey = minimal();
    badKey.agent.publicKey = "abcd";
    expect(configError(badKey)).to.match(/agent.publicKey must be 32 bytes of hex/);
    const badAction = { ...minimal(), onFailedVerdict: "explode" };
    expect(configError(badAction)).to.match(/onFailedVerdict must be/);
    expect(configError({ ...minimal(), p2p: { bootstrap: "not a list" } })).to.match(/p2p.bootstrap must be an array of strings/);
  });
});
