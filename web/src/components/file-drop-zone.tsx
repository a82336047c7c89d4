// A drop zone for files with a plain file input inside it, so that a keyboard or a screen reader
// reaches the same thing a mouse drags onto. Several files at once; each is handed over as is.
import { useId, useState, type DragEvent } from 'react';
import './file-drop-zone.css';

export function FileDropZone({ label, hint, accept, multiple = true, onFiles, id }: {
  label: string;
  hint?: string;
  accept?: string;
  multiple?: boolean;
  onFiles: (files: File[]) => void;
  id?: string;
}) {
  const inputId = useId();
  const [over, setOver] = useState(false);

  function dropped(event: DragEvent<HTMLDivElement>) {
    event.preventDefault();
    setOver(false);
    const files = [...event.dataTransfer.files];
    if (files.length) onFiles(multiple ? files : files.slice(0, 1));
  }

  return (
    <div
      id={id}
      className={`drop-zone${over ? ' drop-zone-over' : ''}`}
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={dropped}
    >
      <p className="drop-zone-text">Drop files here, or</p>
      <label htmlFor={inputId} className="drop-zone-label">{label}</label>
      <input
        id={inputId}
        type="file"
        multiple={multiple}
        accept={accept}
        aria-describedby={hint ? `${inputId}-hint` : undefined}
        onChange={(e) => {
          const files = [...(e.currentTarget.files ?? [])];
          e.currentTarget.value = '';
          if (files.length) onFiles(files);
        }}
      />
      {hint && <p className="hint" id={`${inputId}-hint`}>{hint}</p>}
    </div>
  );
}
