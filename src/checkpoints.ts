import { Contents, ServerConnection } from '@jupyterlab/services';

const MAX_FILE = 16 * 1024 * 1024;
const MAX_TOTAL = 64 * 1024 * 1024; // per map: the versions seen, the kept

interface IVersion {
  bytes: BodyInit;
  size: number;
}

interface ICheckpoint extends IVersion {
  model: Contents.ICheckpointModel;
}

/**
 * "Revert to the last save" for this tab: the version a document was opened
 * at or last saved as, kept in memory (never written to the storage, so no
 * listing ever shows it), one per file, for files up to 16 MiB and 64 MiB in
 * all, the oldest dropped first. After a reload a file has no checkpoint,
 * and JupyterLab says so.
 */
export class Checkpoints {
  /**
   * Remembers the bytes of `path` as read or written.
   */
  seen(path: string, bytes: BodyInit, size: number): void {
    this._seen.delete(path);
    if (size <= MAX_FILE) {
      this._seen.set(path, { bytes, size });
      Private.trim(this._seen);
    }
  }

  /**
   * A checkpoint of the last version seen of `path`.
   */
  create(path: string): Contents.ICheckpointModel {
    const version = this._seen.get(path);
    if (!version) {
      // 403, as for a read-only folder: JupyterLab then opens the file anyway
      throw new ServerConnection.ResponseError(
        new Response(null, { status: 403, statusText: 'Forbidden' }),
        `No checkpoint of ${path}: this tab keeps only files it read or saved`
      );
    }
    const model = { id: 'last-save', last_modified: new Date().toISOString() };
    this._kept.delete(path);
    this._kept.set(path, { ...version, model });
    Private.trim(this._kept);
    return model;
  }

  list(path: string): Contents.ICheckpointModel[] {
    const kept = this._kept.get(path);
    return kept ? [kept.model] : [];
  }

  /**
   * The bytes of a checkpoint, to write back.
   */
  bytes(path: string, id: string): IVersion {
    const kept = this._kept.get(path);
    if (!kept || kept.model.id !== id) {
      throw new Error(`No checkpoint ${id} of ${path}`);
    }
    return kept;
  }

  forget(path: string): void {
    for (const map of [this._seen, this._kept]) {
      for (const key of [...map.keys()]) {
        if (key === path || key.startsWith(path + '/')) {
          map.delete(key);
        }
      }
    }
  }

  delete(path: string): void {
    this._kept.delete(path);
  }

  private _seen = new Map<string, IVersion>();
  private _kept = new Map<string, ICheckpoint>();
}

namespace Private {
  /**
   * Drops the oldest entries beyond the limit (maps keep insertion order).
   */
  export function trim(map: Map<string, IVersion>): void {
    let total = 0;
    map.forEach(version => (total += version.size));
    for (const [path, version] of map) {
      if (total <= MAX_TOTAL) {
        break;
      }
      map.delete(path);
      total -= version.size;
    }
  }
}
