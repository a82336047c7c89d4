// What each channel takes as a file sent to a customer, from Meta's limits: the WhatsApp Cloud
// API's image and document media, the Messenger Send API's attachments, and the Messenger
// Platform's Instagram API (images, video, audio and PDF files, by the formats its Attachment
// Upload API lists). Web chat links to the stored file itself (api/webchat/file-links.ts). An
// agent's attachment (api/outbound-attachments.ts) and the assistant's send_file
// (activities/llm/send-file.ts) are checked against the same table.

/** What a channel takes: images shown as pictures, and other files (`documentTypes`; null: any type). */
export interface ChannelFileLimits {
  imageTypes: string[];
  imageMaxBytes: number;
  documentTypes: string[] | null;
  documentMaxBytes: number;
}

const MB = 1024 * 1024;

const CHANNEL_FILE_LIMITS: Readonly<Record<string, ChannelFileLimits>> = {
  whatsapp: { imageTypes: ['image/jpeg', 'image/png'], imageMaxBytes: 5 * MB, documentTypes: null, documentMaxBytes: 100 * MB },
  messenger: { imageTypes: ['image/jpeg', 'image/png', 'image/gif'], imageMaxBytes: 25 * MB, documentTypes: null, documentMaxBytes: 25 * MB },
  instagram: {
    imageTypes: ['image/jpeg', 'image/png', 'image/gif'],
    imageMaxBytes: 8 * MB,
    documentTypes: [
      'video/mp4', 'video/ogg', 'video/webm', 'video/quicktime', 'video/x-msvideo',
      'audio/aac', 'audio/mp4', 'audio/x-m4a', 'audio/wav', 'audio/x-wav', 'audio/wave',
      'application/pdf',
    ],
    documentMaxBytes: 25 * MB,
  },
  webchat: { imageTypes: ['image/jpeg', 'image/png', 'image/gif', 'image/webp'], imageMaxBytes: 25 * MB, documentTypes: null, documentMaxBytes: 100 * MB },
};

/** The files a message may carry on this channel type; undefined: it takes none. */
export function channelFileLimits(channel: string): ChannelFileLimits | undefined {
  return Object.hasOwn(CHANNEL_FILE_LIMITS, channel) ? CHANNEL_FILE_LIMITS[channel] : undefined;
}
