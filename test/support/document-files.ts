// Real document files for the parsing tests: PDFs made with pdf-lib, DOCX files made with docx,
// and DOCX files whose main part is replaced (a zip bomb: megabytes of repeated XML that deflate
// to kilobytes), optionally with sizes in the ZIP's headers that lie about it.
import { Document as DocxDocument, HeadingLevel, Packer, Paragraph } from 'docx';
import JSZip from 'jszip';
import { PDFDocument, StandardFonts } from 'pdf-lib';

/** A PDF with one page per entry, each line of it drawn as text. */
export async function pdfFile(pages: string[]): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  for (const body of pages) {
    const page = pdf.addPage([595, 842]);
    body.split('\n').forEach((line, i) => page.drawText(line, { x: 50, y: 780 - i * 18, size: 12, font }));
  }
  return pdf.save();
}

/** A small DOCX with two headings. */
export async function docxFile(): Promise<Uint8Array> {
  const doc = new DocxDocument({
    sections: [
      {
        children: [
          new Paragraph({ text: 'Warranty', heading: HeadingLevel.HEADING_1 }),
          new Paragraph('Every Acme frame carries a lifetime warranty against manufacturing defects.'),
          new Paragraph({ text: 'Batteries', heading: HeadingLevel.HEADING_2 }),
          new Paragraph('E-bike batteries are covered for two years or 800 charge cycles, whichever comes first.'),
        ],
      },
    ],
  });
  return new Uint8Array(await Packer.toBuffer(doc));
}

const W = 'http://schemas.openxmlformats.org/wordprocessingml/2006/main';

/**
 * A valid DOCX whose word/document.xml holds `paragraphs` copies of one paragraph: about
 * 60 bytes of XML each, deflating to almost nothing.
 */
export async function docxWithParagraphs(paragraphs: number, text = 'Spokes are tensioned by hand.'): Promise<Uint8Array> {
  const body = `<w:p><w:r><w:t>${text}</w:t></w:r></w:p>`.repeat(paragraphs);
  const zip = await JSZip.loadAsync(await docxFile());
  zip.file('word/document.xml', `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="${W}"><w:body>${body}</w:body></w:document>`);
  return zip.generateAsync({ type: 'uint8array', compression: 'DEFLATE', compressionOptions: { level: 9 } });
}

/** The ZIP with the uncompressed size of `name` rewritten, in its local header and central directory, to `declared`. */
export function withDeclaredSize(zip: Uint8Array, name: string, declared: number): Uint8Array {
  const out = new Uint8Array(zip);
  const view = new DataView(out.buffer);
  const encoded = new TextEncoder().encode(name);
  const nameAt = (at: number) => encoded.every((b, i) => out[at + i] === b);
  let patched = 0;
  for (let i = 0; i + 46 < out.length; i++) {
    const signature = view.getUint32(i, true);
    // Local file header: name at 30, uncompressed size at 22. Central directory header: name at 46, size at 24.
    if (signature === 0x04034b50 && view.getUint16(i + 26, true) === encoded.length && nameAt(i + 30)) {
      view.setUint32(i + 22, declared, true);
      patched++;
    } else if (signature === 0x02014b50 && view.getUint16(i + 28, true) === encoded.length && nameAt(i + 46)) {
      view.setUint32(i + 24, declared, true);
      patched++;
    }
  }
  if (patched !== 2) throw new Error(`expected a local and a central header for ${name}, patched ${patched}`);
  return out;
}
