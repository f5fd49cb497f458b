'use strict';

// The list of file transfers in step 8: one row per file, with its name and size, a progress
// bar, what is happening, Cancel while it runs, and Save once a file has arrived; and the SHA-256
// of a file, in hex. Plumbing: what a transfer *is* (chunks, backpressure, the SHA-256 check) is
// step 8's main.js.

// Adds a row to `list`; returns {show(bytes, text), end(text, state), offerDownload(blob, name)}.
function transferRow(list, name, size, onCancel) {
  const row = document.createElement('li');
  row.dataset.name = name;
  row.dataset.state = 'running';
  const title = document.createElement('span');
  title.className = 'file-name';
  title.textContent = `${name} (${formatBytes(size)})`;
  const progress = document.createElement('progress');
  progress.max = size || 1;
  progress.value = 0;
  const cancelButton = document.createElement('button');
  cancelButton.type = 'button';
  cancelButton.className = 'secondary cancel';
  cancelButton.textContent = 'Cancel';
  cancelButton.onclick = onCancel;
  const status = document.createElement('span');
  status.className = 'status';
  row.append(title, progress, cancelButton, status);
  list.append(row);
  return {
    show(bytes, text) {
      if (row.dataset.state !== 'running') {
        return; // it ended (cancelled, say) while the caller was busy
      }
      progress.value = bytes;
      status.textContent = `${text}: ${formatBytes(bytes)} of ${formatBytes(size)}`;
    },
    end(text, state) {
      row.dataset.state = state;
      cancelButton.remove();
      status.textContent = text;
    },
    offerDownload(blob, fileName) {
      const link = document.createElement('a');
      link.className = 'save';
      link.href = URL.createObjectURL(blob);
      link.download = fileName;
      link.textContent = 'Save';
      row.append(link);
    },
  };
}

function formatBytes(bytes) {
  if (bytes < 1024) {
    return `${bytes} B`;
  }
  if (bytes < 1024 * 1024) {
    return `${(bytes / 1024).toFixed(1)} KiB`;
  }
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

async function sha256(blob) {
  const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}
