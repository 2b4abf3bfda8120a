// Minimal typing of the part of circomlibjs we use (the package ships no types).
declare module "circomlibjs" {
  export interface PoseidonField {
    toObject(e: unknown): bigint;
    e(v: bigint | number | string): unknown;
    p: bigint;
  }
  export interface Poseidon {
    (inputs: ReadonlyArray<bigint | number>): unknown;
    F: PoseidonField;
  }
  export function buildPoseidon(): Promise<Poseidon>;
}
