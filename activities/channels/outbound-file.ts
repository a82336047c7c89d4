// A stored file on its way to a user, as the channel clients send it.
export interface OutboundFile {
  /** image: shown as a picture; document: offered as a file. */
  kind: 'image' | 'document';
  bytes: Uint8Array;
  mimeType: string;
  filename: string;
}
