/** Ethereum addresses: always stored and compared in EIP-55 checksummed form. */
import { getAddress } from 'ethers';

/**
 * Normalise an operator-typed address to EIP-55. Accepts all-lowercase or all-uppercase hex
 * (no checksum to check) and correctly checksummed mixed case; rejects a wrong checksum.
 */
export function normaliseAddress(input: string): string {
  const text = input.trim();
  if (!/^0x[0-9a-fA-F]{40}$/.test(text)) throw new Error(`"${input}" is not an Ethereum address (0x + 40 hex digits)`);
  try {
    return getAddress(text);
  } catch {
    throw new Error(`"${input}" has a wrong EIP-55 checksum (mixed case that does not match); check for a typo`);
  }
}

/** True if `text` is exactly the EIP-55 checksummed form of an address. */
export function isChecksummed(text: string): boolean {
  if (!/^0x[0-9a-fA-F]{40}$/.test(text)) return false;
  try {
    return getAddress(text) === text;
  } catch {
    return false;
  }
}
