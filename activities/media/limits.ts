// What the platform takes from end users' media: a size cap and a list of MIME types
// (MEDIA_MAX_BYTES, MEDIA_ALLOWED_TYPES). A refusal is a reason stored with the message, so an
// agent sees why a file is missing instead of a silent gap.

export interface MediaLimits {
  maxBytes: number;
  /** Lowercase MIME types; `type/*` takes a whole family. */
  allowedTypes: readonly string[];
}

/** The MIME type without parameters (`audio/ogg; codecs=opus` → `audio/ogg`), lowercase. */
export function bareMimeType(mimeType: string): string {
  return mimeType.split(';')[0]!.trim().toLowerCase();
}

export function typeAllowed(limits: MediaLimits, mimeType: string): boolean {
  const bare = bareMimeType(mimeType);
  const family = `${bare.split('/')[0]}/*`;
  return limits.allowedTypes.includes(bare) || limits.allowedTypes.includes(family);
}

/** Why a file of this type and size is not taken; undefined when it is (an unknown size is checked while reading). */
export function mediaRefusal(limits: MediaLimits, mimeType: string | undefined, sizeBytes?: number): string | undefined {
  if (!mimeType) return 'type_unknown: the provider named no MIME type';
  if (!typeAllowed(limits, mimeType)) return `type_not_allowed: ${bareMimeType(mimeType)} is not in MEDIA_ALLOWED_TYPES`;
  if (sizeBytes !== undefined && sizeBytes > limits.maxBytes) return tooLarge(limits, sizeBytes);
  return undefined;
}

export function tooLarge(limits: MediaLimits, sizeBytes: number | 'more'): string {
  const size = sizeBytes === 'more' ? `more than ${limits.maxBytes} bytes` : `${sizeBytes} bytes`;
  return `too_large: ${size}, the limit is ${limits.maxBytes} (MEDIA_MAX_BYTES)`;
}
