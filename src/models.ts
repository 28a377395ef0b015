import { PathExt } from '@jupyterlab/coreutils';
import { Contents } from '@jupyterlab/services';

/**
 * One entry of `api/ls` or `api/info`; `name` is `<source>/<path>`.
 */
export interface IEntry {
  name: string;
  type: 'file' | 'directory' | 'other';
  size: number;
  mtime: number | null;
  etag?: string;
}

/**
 * One source of `api/sources`, as the caller may use it.
 */
export interface ISource {
  name: string;
  protocol: string;
  readonly: boolean;
  available: boolean;
  reason: string | null;
  writable: boolean;
}

/**
 * What the drive knows of a file beyond the entry: how JupyterLab opens it.
 */
export interface IFileKind {
  type: Contents.ContentType;
  mimetype: string;
}

/**
 * A contents model for an entry, without content. `hash` is the ETag, which
 * JupyterLab compares before a save to tell that the file changed. Storage
 * keeps no creation time: `created` stays empty (and the file browser
 * formats one date less per row).
 */
export function modelOf(
  entry: IEntry,
  writable: boolean,
  kind: IFileKind
): Contents.IModel {
  const time =
    entry.mtime === null ? '' : new Date(entry.mtime * 1000).toISOString();
  const directory = entry.type === 'directory';
  return {
    name: PathExt.basename(entry.name),
    path: entry.name,
    type: directory ? 'directory' : kind.type,
    writable,
    created: '',
    last_modified: time,
    mimetype: directory ? '' : kind.mimetype,
    content: null,
    format: null,
    size: directory ? undefined : entry.size,
    hash: entry.etag,
    hash_algorithm: entry.etag ? 'etag' : undefined
  };
}

/**
 * A source as a folder at the drive's root.
 */
export function sourceModel(source: ISource): Contents.IModel {
  return {
    name: source.name,
    path: source.name,
    type: 'directory',
    writable: source.writable,
    created: '',
    last_modified: '',
    mimetype: '',
    content: null,
    format: null
  };
}

/**
 * A folder model with its entries as content.
 */
export function folderModel(
  path: string,
  writable: boolean,
  content: Contents.IModel[]
): Contents.IModel {
  return {
    name: PathExt.basename(path),
    path,
    type: 'directory',
    writable,
    created: '',
    last_modified: '',
    mimetype: '',
    content,
    format: 'json'
  };
}

/**
 * The percent-encoded route of `<source>/<path>` below `prefix`
 * (`files/`, `api/ls/`, ...).
 */
export function route(prefix: string, path: string): string {
  return prefix + path.split('/').map(encodeURIComponent).join('/');
}
