/**
 * Types for `http_ece` 1.x (Encrypted Content-Encoding for HTTP, RFC 8188; Web Push message
 * encryption, RFC 8291), which ships none. Only what the stand-ins use is declared.
 */
declare module 'http_ece' {
  import type { ECDH } from 'node:crypto';

  namespace ece {
    /** Buffers, or strings in base64url. */
    type Bytes = Buffer | string;

    interface Params {
      /** `aes128gcm` (RFC 8188, Web Push today; the default), or the older `aesgcm` / `aesgcm128`. */
      version?: 'aes128gcm' | 'aesgcm' | 'aesgcm128';
      /** A raw 16-byte content-encryption key, instead of key agreement. */
      key?: Bytes;
      /** This side's ECDH key pair (P-256): the receiver's when decrypting Web Push. */
      privateKey?: ECDH;
      /** The other side's public key; read from the aes128gcm header when decrypting. */
      dh?: Bytes;
      /** The subscription's 16-byte auth secret. */
      authSecret?: Bytes;
      /** 16-byte salt; read from the aes128gcm header when decrypting. */
      salt?: Bytes;
      /** Record size in bytes (default 4096). */
      rs?: number | string;
      keyid?: Bytes;
      keymap?: Record<string, Buffer>;
      keylabel?: string;
      /** Padding bytes to add when encrypting. */
      pad?: number;
    }

    /** Decrypts `buffer`; throws when the key is wrong or the content was tampered with. */
    function decrypt(buffer: Buffer, params: Params, keyLookupCallback?: (keyid: Buffer) => Buffer): Buffer;
    function encrypt(buffer: Buffer, params: Params, keyLookupCallback?: (keyid: Buffer) => Buffer): Buffer;
  }

  export = ece;
}
