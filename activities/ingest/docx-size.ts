// A DOCX is a ZIP: a few megabytes can inflate to gigabytes of XML (a zip bomb), which mammoth
// would inflate into memory whole before it fails. Every part is inflated here first with
// jszip (the library mammoth itself reads the ZIP with), counting bytes as they come and
// stopping at the limit, so that conversion only starts on a document known to fit. The sizes
// the ZIP declares are not trusted: they are what a bomb lies about.
import { ApplicationFailure } from '@temporalio/common';
import JSZip from 'jszip';

const MiB = 1024 * 1024;
const size = (bytes: number) => (bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes} bytes`);

/** Throws DocumentTooLarge when the DOCX's parts inflate to more than `maxBytes` in all. */
export async function checkDocxInflatedSize(bytes: Uint8Array, maxBytes: number): Promise<void> {
  const zip = await JSZip.loadAsync(bytes);
  let total = 0;
  for (const entry of Object.values(zip.files)) {
    if (entry.dir) continue;
    await new Promise<void>((resolve, reject) => {
      const stream = entry.nodeStream('nodebuffer');
      stream.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total > maxBytes) {
          // Destroying the stream pauses jszip's inflater: nothing more is inflated.
          (stream as NodeJS.ReadableStream & { destroy(): void }).destroy();
          reject(ApplicationFailure.nonRetryable(`The DOCX file inflates to more than ${size(maxBytes)}, the limit`, 'DocumentTooLarge'));
        }
      });
      stream.on('end', resolve);
      stream.on('error', reject);
    });
  }
}
