/**
 * `trustmesh keystore new|import|inspect|check`: encrypted key files for operators and
 * verifiers. A private key is imported from an environment variable, never from argv
 * (argv is visible to every user through ps).
 */
import type { Command } from "commander";
import { generatePrivateKey, privateKeyToAddress } from "viem/accounts";
import {
  decryptKeystore,
  encryptKeystore,
  keystoreAddress,
  LIGHT_SCRYPT,
  readKeystoreFile,
  STANDARD_SCRYPT,
  writeKeystoreFile,
} from "../../chain/keystore.js";
import { DEFAULT_KEY_ENV } from "../../chain/signers.js";
import { CliInputError, readPassword } from "../chain-options.js";
import { printJson, Progress, renderFields } from "../render.js";
import type { Hex } from "viem";

interface NewOpts {
  passwordFile?: string;
  light?: boolean;
  json?: boolean;
}

async function writeNew(out: string, key: Hex, opts: NewOpts): Promise<void> {
  const password = await readPassword(opts.passwordFile, true);
  const progress = new Progress(Boolean(opts.json));
  progress.step("deriving the encryption key (scrypt)");
  const ks = await encryptKeystore({ privateKey: key, password, kdf: opts.light ? LIGHT_SCRYPT : STANDARD_SCRYPT });
  await writeKeystoreFile(out, ks);
  progress.done(`wrote ${out}`);
  const address = privateKeyToAddress(key);
  if (opts.json) printJson({ address, file: out });
  else process.stdout.write(renderFields([["address", address], ["file", out]]));
}

export function register(program: Command): void {
  const ks = program.command("keystore").description("encrypted key files (Web3 Secret Storage v3, scrypt + AES-128-CTR)");

  ks.command("new")
    .description("create a new random key and save it encrypted")
    .argument("<file>", "where to write the keystore (must not exist)")
    .option("--password-file <file>", "file whose first line is the password")
    .option("--light", "light scrypt cost (n=4096): for tests and throwaway keys only")
    .option("--json", "JSON output")
    .action(async (file: string, opts: NewOpts) => writeNew(file, generatePrivateKey(), opts));

  ks.command("import")
    .description(`encrypt an existing private key read from an environment variable (default ${DEFAULT_KEY_ENV})`)
    .argument("<file>", "where to write the keystore (must not exist)")
    .option("--key-env <var>", "environment variable holding the hex private key", DEFAULT_KEY_ENV)
    .option("--password-file <file>", "file whose first line is the password")
    .option("--light", "light scrypt cost (n=4096)")
    .option("--json", "JSON output")
    .action(async (file: string, opts: NewOpts & { keyEnv: string }) => {
      const raw = process.env[opts.keyEnv]?.trim();
      if (!raw) throw new CliInputError("CLI_NO_KEY", `environment variable ${opts.keyEnv} is not set`);
      await writeNew(file, (raw.startsWith("0x") ? raw : `0x${raw}`) as Hex, opts);
    });

  ks.command("inspect")
    .description("show a keystore's address and KDF without decrypting it")
    .argument("<file>")
    .option("--json", "JSON output")
    .action(async (file: string, opts: { json?: boolean }) => {
      const k = await readKeystoreFile(file);
      const info = { address: keystoreAddress(k), id: k.id, kdf: k.crypto.kdf, kdfparams: k.crypto.kdfparams, cipher: k.crypto.cipher };
      if (opts.json) printJson(info);
      else process.stdout.write(renderFields([["address", info.address], ["id", info.id], ["kdf", `${info.kdf} ${JSON.stringify(info.kdfparams)}`], ["cipher", info.cipher]]));
    });

  ks.command("check")
    .description("decrypt a keystore to prove the password is right (prints the address only)")
    .argument("<file>")
    .option("--password-file <file>", "file whose first line is the password")
    .option("--json", "JSON output")
    .action(async (file: string, opts: { passwordFile?: string; json?: boolean }) => {
      const k = await readKeystoreFile(file);
      const key = await decryptKeystore(k, await readPassword(opts.passwordFile));
      const address = privateKeyToAddress(key);
      if (opts.json) printJson({ address, ok: true });
      else process.stdout.write(`ok: ${address}\n`);
    });
}
