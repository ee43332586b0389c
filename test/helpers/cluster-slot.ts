/**
 * The Redis Cluster slot of a key, computed here rather than asked of Redis: CRC16 (XMODEM) of
 * the key's hash tag (the part between the first `{` and the next `}`, when not empty) or of
 * the whole key, modulo 16384 (the Redis Cluster specification, "Keys hash tags").
 */
export function clusterSlot(key: string): number {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(Buffer.from(key)) % 16384;
}

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}
