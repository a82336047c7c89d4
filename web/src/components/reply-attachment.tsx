// The reply composer's file: a picker limited to what the conversation's channel takes (the
// API's own table, GET /conversations/{id} `attachmentLimits`), the chosen file's name and size,
// and a plain message for a file the channel would refuse, before anything is uploaded. The file
// goes base64-encoded in the agent message's `attachment`, as the API takes it.
import type { paths } from '../api/schema';
import { byteSize } from './byte-size';

type ConversationDetail = paths['/api/v1/conversations/{id}']['get']['responses'][200]['content']['application/json'];
export type AttachmentLimits = NonNullable<ConversationDetail['attachmentLimits']>;

/** "JPEG, PNG" from image/jpeg, image/png (x- prefixes dropped, each name once). */
const typeNames = (types: string[]) => [...new Set(types.map((t) => (t.split('/')[1] ?? t).replace(/^x-/, '').toUpperCase()))].join(', ');

/** What the channel takes, in one sentence. */
export function attachmentHint(limits: AttachmentLimits): string {
  const imageMax = Math.min(limits.imageMaxBytes, limits.uploadMaxBytes);
  const fileMax = Math.min(limits.documentMaxBytes, limits.uploadMaxBytes);
  const files = limits.documentTypes ? `${typeNames(limits.documentTypes)} files` : 'other files';
  return `Pictures (${typeNames(limits.imageTypes)}) up to ${byteSize(imageMax)}; ${files} up to ${byteSize(fileMax)}.`;
}

/** Why the channel would refuse this file, or null when it takes it. */
export function attachmentProblem(file: File, limits: AttachmentLimits, channel: string): string | null {
  const type = file.type.toLowerCase();
  const image = limits.imageTypes.includes(type);
  if (!image && limits.documentTypes && !limits.documentTypes.includes(type)) {
    return `${channel} does not take ${type ? `${typeNames([type])} files` : 'files of this type'} (${file.name}). ${attachmentHint(limits)}`;
  }
  const max = Math.min(image ? limits.imageMaxBytes : limits.documentMaxBytes, limits.uploadMaxBytes);
  if (file.size > max) return `${file.name} is ${byteSize(file.size)}: ${channel} takes ${image ? 'pictures' : 'files'} of at most ${byteSize(max)}.`;
  if (file.size === 0) return `${file.name} is empty.`;
  return null;
}

/** The file as the agent message's `attachment`. */
export async function attachmentOf(file: File): Promise<{ filename: string; mimeType: string; data: string }> {
  const dataUrl = await new Promise<string>((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error('the file could not be read'));
    reader.readAsDataURL(file);
  });
  return { filename: file.name, mimeType: file.type.toLowerCase() || 'application/octet-stream', data: dataUrl.slice(dataUrl.indexOf(',') + 1) };
}

export function AttachmentPicker({ limits, file, problem, disabled, onChoose, onRemove }: {
  limits: AttachmentLimits;
  file: File | undefined;
  problem: string;
  disabled: boolean;
  onChoose: (file: File) => void;
  onRemove: () => void;
}) {
  const accept = [...limits.imageTypes, ...(limits.documentTypes ?? [])].join(',');
  const described = ['reply-file-hint', problem ? 'reply-file-problem' : ''].filter(Boolean).join(' ');
  return (
    <div className="reply-attachment">
      <label htmlFor="reply-file">Attach a file</label>
      <input
        id="reply-file"
        type="file"
        // Any file when the channel takes any type: the check below says what it refuses.
        accept={limits.documentTypes ? accept : undefined}
        disabled={disabled}
        aria-describedby={described}
        aria-invalid={problem ? true : undefined}
        onChange={(e) => {
          const chosen = e.currentTarget.files?.[0];
          e.currentTarget.value = '';
          if (chosen) onChoose(chosen);
        }}
      />
      <p className="hint" id="reply-file-hint">{attachmentHint(limits)}</p>
      {problem && <p className="field-error" id="reply-file-problem" role="alert">{problem}</p>}
      {file && (
        <p className="reply-file-chosen" id="reply-file-chosen">
          <span className="reply-file-name">{file.name}</span> · {byteSize(file.size)}{' '}
          <button type="button" id="reply-file-remove" className="secondary" disabled={disabled} onClick={onRemove} aria-label={`Remove ${file.name}`}>Remove</button>
        </p>
      )}
    </div>
  );
}
