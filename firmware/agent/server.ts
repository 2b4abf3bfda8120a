/**
 * The agent's listening side of the bridge: accepts TCP connections (loopback or the
 * gateway-only link), runs the Noise XX handshake as responder, accepts only pinned
 * gateway keys, and feeds each decrypted frame to Agent.handle in arrival order.
 * A handshake failure drops that connection only; the server keeps listening.
 */
import { createServer, type Server, type Socket } from "node:net";
import { SecureChannel, type RekeyPolicy } from "../../offchain/attest/bridge/channel.js";
import type { AgentResponse } from "../../offchain/attest/bridge/messages.js";
import type { StaticKeyPair } from "../../offchain/attest/bridge/noise.js";
import type { Agent } from "./agent.js";
import { AgentError } from "./errors.js";

export interface AgentServerOptions extends RekeyPolicy {
  agent: Agent;
  staticKey: StaticKeyPair;
  /** Gateway static keys allowed to connect. */
  gatewayKeys: readonly Uint8Array[];
  host?: string;
  /** 0 = any free port. */
  port?: number;
  /** Called with connection-level failures (bad handshake, unpinned key, tampered frame). */
  onConnectionError?: (e: Error) => void;
}

export class AgentServer {
  private readonly channels = new Set<SecureChannel>();
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly host: string,
  ) {}

  static async listen(opts: AgentServerOptions): Promise<AgentServer> {
    if (opts.gatewayKeys.length === 0) throw new AgentError("BAD_REQUEST", "agent server needs at least one pinned gateway key");
    const host = opts.host ?? "127.0.0.1";
    let self: AgentServer | undefined;
    const server = createServer((socket) => {
      self?.sockets.add(socket);
      socket.on("close", () => self?.sockets.delete(socket));
      socket.setNoDelay(true);
      void SecureChannel.establish(socket, false, {
        staticKey: opts.staticKey,
        pinned: opts.gatewayKeys,
        rekeyIntervalMs: opts.rekeyIntervalMs,
        rekeyAfterMessages: opts.rekeyAfterMessages,
      }).then(
        (ch) => {
          self?.channels.add(ch);
          let tail = Promise.resolve();
          const send = (reply: AgentResponse): void => {
            if (!ch.isClosed) ch.send(Buffer.from(JSON.stringify(reply), "utf8"));
          };
          ch.onMessage((frame) => {
            const parsed = opts.agent.parse(frame);
            if ("reply" in parsed) {
              tail = tail.then(() => send(parsed.reply));
              return;
            }
            const answer = (): Promise<void> => opts.agent.respond(parsed.request, ch.handshakeHash).then(send);
            // A task run takes up to its time limit and uses no TPM: it runs beside the
            // queue, so quotes (attestation rounds) never wait for it. Everything else is
            // serialised per connection (one TPM, replies in request order); the client
            // matches replies by id either way.
            if (parsed.request.type === "task-run") {
              void answer();
              return;
            }
            tail = tail.then(answer);
          });
          ch.onClose((e) => {
            self?.channels.delete(ch);
            if (e) opts.onConnectionError?.(e);
          });
        },
        (e: Error) => opts.onConnectionError?.(e),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port ?? 0, host, () => resolve());
    });
    const addr = server.address();
    self = new AgentServer(server, typeof addr === "object" && addr ? addr.port : 0, host);
    return self;
  }

  get connections(): number {
    return this.channels.size;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
