import { PathExt } from '@jupyterlab/coreutils';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { Contents, ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { encode, toBase64, utf8 } from './bytes';
import { Checkpoints } from './checkpoints';
import { ProxyConnection } from './connection';
import {
  folderModel,
  IEntry,
  IFileKind,
  ISource,
  modelOf,
  route,
  sourceModel
} from './models';
import { ChunkedUploads } from './uploads';

/**
 * The drive's name: paths in JupyterLab read `Storage:<source>/<path>`.
 */
export const DRIVE_NAME = 'Storage';

const MiB = 1024 * 1024;
const EMPTY_NOTEBOOK = {
  cells: [],
  metadata: {},
  nbformat: 4,
  nbformat_minor: 5
};
const UNTITLED = {
  directory: (n: number) => `Untitled Folder${n ? ` ${n}` : ''}`,
  notebook: (n: number) => `Untitled${n || ''}.ipynb`,
  file: (n: number, ext: string) => `untitled${n || ''}${ext}`
};
const MAX_NAME_TRIES = 100;

export namespace ProxyDrive {
  export interface IOptions {
    connection: ProxyConnection;
    /**
     * The app's file types: they decide how a file opens (text, base64,
     * notebook JSON), as for JupyterLab's own files.
     */
    docRegistry: DocumentRegistry;
    /**
     * The largest file opened in the browser, in bytes.
     */
    maxOpenSize: () => number;
  }
}

/**
 * The proxy's sources as a JupyterLab drive: the root lists the sources the
 * user may read, each a folder. Every method is one or two calls of the
 * proxy's HTTP API, which decides what the user may do; the drive keeps no
 * rule of its own.
 */
export class ProxyDrive implements Contents.IDrive {
  readonly name = DRIVE_NAME;
  readonly serverSettings = ServerConnection.makeSettings();

  constructor(options: ProxyDrive.IOptions) {
    this.connection = options.connection;
    this._registry = options.docRegistry;
    this._maxOpenSize = options.maxOpenSize;
    this._uploads = new ChunkedUploads(options.connection);
  }

  readonly connection: ProxyConnection;

  get fileChanged(): ISignal<this, Contents.IChangedArgs> {
    return this._fileChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    this._isDisposed = true;
    Signal.clearData(this);
  }

  async get(
    localPath: string,
    options: Contents.IFetchOptions = {}
  ): Promise<Contents.IModel> {
    const path = Private.clean(localPath);
    const content = options.content ?? true;
    if (!path) {
      return this._root();
    }
    if (content && options.type && options.type !== 'directory') {
      return this._read(path, options); // a document opening: one GET
    }
    if (!content) {
      return this._model(await this.info(path));
    }
    // A folder, as the file browser asks: its entries and its entry at once.
    const [entry, folder] = await Promise.all([
      options.type === 'directory' ? null : this.info(path),
      this._folder(path).then(
        model => ({ model }),
        error => ({ error })
      )
    ]);
    if (entry && entry.type !== 'directory') {
      return this._read(path, options);
    }
    if ('error' in folder) {
      throw folder.error;
    }
    return folder.model;
  }

  /**
   * A file's or folder's entry (`api/info`).
   */
  async info(path: string): Promise<IEntry> {
    try {
      const entry = await this.connection.json<IEntry>(
        route('api/info/', path)
      );
      this._noteVersion(path, entry.etag);
      return entry;
    } catch (error) {
      if (Private.hasStatus(error, 404)) {
        this._versions.delete(path); // gone: a save creates it anew
      }
      throw error;
    }
  }

  /**
   * Bytes `start` to `end` (exclusive) of a file, in one `Range` request.
   */
  async readRange(
    localPath: string,
    start: number,
    end: number
  ): Promise<ArrayBuffer> {
    const answer = await this.connection.request(
      route('files/', Private.clean(localPath)),
      { headers: { Range: `bytes=${start}-${end - 1}` } }
    );
    const bytes = await answer.arrayBuffer();
    // a 200 is the whole file: a server that ignored the range
    return answer.status === 206 ? bytes : bytes.slice(start, end);
  }

  /**
   * A short-lived URL that reads the file without a token or cookie
   * (`api/sign`): `<a download>` cannot send either.
   */
  /**
   * Whether an upload in pieces is under way.
   */
  get uploading(): boolean {
    return this._uploads.running;
  }

  /**
   * Cancels the uploads in pieces under way: nothing of them remains.
   */
  cancelUploads(): void {
    this._uploads.cancel();
  }

  async getDownloadUrl(localPath: string): Promise<string> {
    const signed = await this.connection.json<{ url: string }>(
      route('api/sign/', Private.clean(localPath)),
      { method: 'POST' }
    );
    return this.connection.url(signed.url);
  }

  async newUntitled(
    options: Contents.ICreateOptions = {}
  ): Promise<Contents.IModel> {
    const folder = Private.sourceFolder(options.path ?? '', 'New files');
    const type = options.type ?? 'file';
    const taken = new Set(
      (await this._entries(folder)).map(entry => PathExt.basename(entry.name))
    );
    for (let n = 0; n < MAX_NAME_TRIES; n++) {
      const name =
        type === 'directory' || type === 'notebook'
          ? UNTITLED[type](n)
          : UNTITLED.file(n, options.ext ?? '');
      if (taken.has(name)) {
        continue;
      }
      try {
        const model = await this._create(`${folder}/${name}`, type);
        this._fileChanged.emit({
          type: 'new',
          oldValue: null,
          newValue: model
        });
        return model;
      } catch (error) {
        if (!Private.hasStatus(error, 409, 412)) {
          throw error; // else taken since the listing: the next name
        }
      }
    }
    throw new Error(`No free untitled name in ${folder}`);
  }

  async delete(localPath: string): Promise<void> {
    const path = Private.inSource(localPath);
    await this.connection.request(`${route('files/', path)}?recursive=true`, {
      method: 'DELETE'
    });
    this._forget(path);
    this._fileChanged.emit({
      type: 'delete',
      oldValue: { path },
      newValue: null
    });
  }

  async rename(
    oldLocalPath: string,
    newLocalPath: string
  ): Promise<Contents.IModel> {
    const from = Private.inSource(oldLocalPath);
    const to = Private.inSource(newLocalPath);
    const destination = Private.sameSource(from, to, 'move');
    const exists = await this.connection.json<{ exists: boolean }>(
      route('api/exists/', to)
    );
    if (exists.exists) {
      // JupyterLab then asks whether to overwrite
      throw new ServerConnection.ResponseError(
        new Response(null, { status: 409, statusText: 'Conflict' }),
        `${to} already exists`
      );
    }
    const entry = await this.connection.json<IEntry>(route('api/move/', from), {
      method: 'POST',
      body: JSON.stringify({ destination, recursive: true }),
      headers: { 'Content-Type': 'application/json' }
    });
    this._forget(from);
    const model = await this._model(entry);
    this._fileChanged.emit({
      type: 'rename',
      oldValue: { path: from },
      newValue: model
    });
    return model;
  }

  async save(
    localPath: string,
    options: Partial<Contents.IModel> = {}
  ): Promise<Contents.IModel> {
    const path = Private.inSource(localPath);
    const conditions = this._conditions(path);
    let entry: IEntry | null;
    if (options.chunk === undefined) {
      const body = encode(options.content, options.format ?? null);
      const answer = await this.connection.request(route('files/', path), {
        method: 'PUT',
        body,
        headers: { ...conditions, 'Content-Type': 'application/octet-stream' }
      });
      entry = (await answer.json()) as IEntry;
      this._checkpoints.seen(path, body, entry.size);
    } else {
      const piece = encode(options.content, 'base64') as Blob;
      entry = await this._uploads.piece(path, options.chunk, piece, conditions);
    }
    const model = entry
      ? await this._model(entry)
      : { ...Private.placeholder(path), ...options, content: null };
    if (entry) {
      this._noteVersion(path, entry.etag, true);
      this._fileChanged.emit({ type: 'save', oldValue: null, newValue: model });
    }
    return model;
  }

  async copy(localPath: string, toLocalDir: string): Promise<Contents.IModel> {
    const from = Private.inSource(localPath);
    const folder = Private.sourceFolder(toLocalDir, 'Copies');
    const name = PathExt.basename(from);
    const taken = new Set(
      (await this._entries(folder)).map(entry => PathExt.basename(entry.name))
    );
    const dot = name.indexOf('.', 1);
    const [stem, ext] =
      dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
    for (let n = 1; n <= MAX_NAME_TRIES; n++) {
      const candidate = `${stem}-Copy${n}${ext}`;
      if (!taken.has(candidate)) {
        const destination = Private.sameSource(
          from,
          `${folder}/${candidate}`,
          'copy'
        );
        const entry = await this.connection.json<IEntry>(
          route('api/copy/', from),
          {
            method: 'POST',
            body: JSON.stringify({ destination, recursive: true }),
            headers: { 'Content-Type': 'application/json' }
          }
        );
        const model = await this._model(entry);
        this._fileChanged.emit({
          type: 'new',
          oldValue: null,
          newValue: model
        });
        return model;
      }
    }
    throw new Error(`No free name for a copy of ${name} in ${folder}`);
  }

  async createCheckpoint(
    localPath: string
  ): Promise<Contents.ICheckpointModel> {
    return this._checkpoints.create(Private.clean(localPath));
  }

  async listCheckpoints(
    localPath: string
  ): Promise<Contents.ICheckpointModel[]> {
    return this._checkpoints.list(Private.clean(localPath));
  }

  async restoreCheckpoint(
    localPath: string,
    checkpointID: string
  ): Promise<void> {
    const path = Private.clean(localPath);
    const version = this._checkpoints.bytes(path, checkpointID);
    const answer = await this.connection.request(route('files/', path), {
      method: 'PUT',
      body: version.bytes,
      headers: {
        ...this._conditions(path),
        'Content-Type': 'application/octet-stream'
      }
    });
    const entry = (await answer.json()) as IEntry;
    this._noteVersion(path, entry.etag, true);
  }

  async deleteCheckpoint(
    localPath: string,
    checkpointID: string
  ): Promise<void> {
    this._checkpoints.delete(Private.clean(localPath));
  }

  /**
   * The entries of a folder (`api/ls`).
   */
  private async _entries(path: string): Promise<IEntry[]> {
    const entries = await this.connection.json<IEntry[]>(
      `${route('api/ls/', path)}?detail=true`
    );
    const listed = new Set<string>();
    for (const entry of entries) {
      this._noteVersion(entry.name, entry.etag);
      listed.add(entry.name);
    }
    for (const known of [...this._versions.keys()]) {
      if (PathExt.dirname(known) === path && !listed.has(known)) {
        this._versions.delete(known); // gone: a save creates it anew
      }
    }
    return entries;
  }

  private async _root(): Promise<Contents.IModel> {
    const sources = await this.connection.json<ISource[]>('api/sources');
    this._sources = Promise.resolve(new Map(sources.map(s => [s.name, s])));
    return folderModel('', false, sources.map(sourceModel));
  }

  private async _folder(path: string): Promise<Contents.IModel> {
    const [entries, writable] = await Promise.all([
      this._entries(path),
      this._writable(path)
    ]);
    const content = entries.map(entry =>
      modelOf(entry, writable, this._kind(entry.name))
    );
    return folderModel(path, writable, content);
  }

  /**
   * A file's content, in the format asked for or its file type's; text that
   * is not UTF-8 comes as base64 unless text was asked for. Files over the
   * size setting are refused before their bytes are read.
   */
  private async _read(
    path: string,
    options: Contents.IFetchOptions
  ): Promise<Contents.IModel> {
    const kind = this._kind(path, options.type);
    const abort = new AbortController();
    const answer = await this.connection.request(route('files/', path), {
      signal: abort.signal
    });
    const size = Number(answer.headers.get('Content-Length') ?? 0);
    const limit = this._maxOpenSize();
    if (size > limit) {
      abort.abort();
      throw new Error(
        `${PathExt.basename(path)} has ${(size / MiB).toFixed(1)} MiB: files ` +
          `over ${(limit / MiB).toFixed(0)} MiB are not opened in the browser ` +
          '(setting "Largest file to open"). Download it, or read it with ' +
          'fsspec in a kernel.'
      );
    }
    const bytes = new Uint8Array(await answer.arrayBuffer());
    const etag = answer.headers.get('ETag') ?? undefined;
    const modified = answer.headers.get('Last-Modified');
    const entry: IEntry = {
      name: path,
      type: 'file',
      size: bytes.length,
      mtime: modified ? Date.parse(modified) / 1000 : null,
      etag
    };
    let format =
      options.format ?? (kind.type === 'notebook' ? 'json' : kind.format);
    let content: unknown = null;
    if (format === 'base64') {
      content = toBase64(bytes);
    } else {
      const text = utf8(bytes);
      if (text === null && options.format) {
        throw new Error(`${PathExt.basename(path)} is not UTF-8 text`);
      }
      if (text === null) {
        format = 'base64';
        content = toBase64(bytes);
      } else {
        content = format === 'json' ? JSON.parse(text) : text;
      }
    }
    this._noteVersion(path, etag, true);
    this._checkpoints.seen(path, bytes, bytes.length);
    const model = modelOf(entry, await this._writable(path), {
      type: kind.type,
      mimetype: format === 'base64' ? kind.binaryMimetype : kind.mimetype
    });
    return { ...model, content, format };
  }

  private async _create(
    path: string,
    type: Contents.ContentType
  ): Promise<Contents.IModel> {
    if (type === 'directory') {
      await this.connection.request(
        `${route('api/mkdir/', path)}?parents=false&exist_ok=false`,
        { method: 'POST' }
      );
      return this.get(path, { content: false });
    }
    const content = type === 'notebook' ? encode(EMPTY_NOTEBOOK, 'json') : '';
    const answer = await this.connection.request(route('files/', path), {
      method: 'PUT',
      body: content,
      headers: {
        'If-None-Match': '*',
        'Content-Type': 'application/octet-stream'
      }
    });
    const entry = (await answer.json()) as IEntry;
    this._noteVersion(path, entry.etag, true);
    return this._model(entry);
  }

  private async _model(entry: IEntry): Promise<Contents.IModel> {
    return modelOf(
      entry,
      await this._writable(entry.name),
      this._kind(entry.name)
    );
  }

  /**
   * How JupyterLab opens `path`: its first registered file type.
   */
  private _kind(
    path: string,
    type?: Contents.ContentType
  ): IFileKind & { format: Contents.FileFormat; binaryMimetype: string } {
    const fileType =
      this._registry.getFileTypesForPath(path)[0] ??
      this._registry.getFileType('text');
    const notebook = (type ?? fileType?.contentType) === 'notebook';
    const mimetype = fileType?.mimeTypes[0] ?? 'text/plain';
    return {
      type: notebook ? 'notebook' : 'file',
      format: fileType?.fileFormat ?? 'text',
      mimetype: notebook ? 'application/x-ipynb+json' : mimetype,
      binaryMimetype:
        fileType?.fileFormat === 'base64'
          ? mimetype
          : 'application/octet-stream'
    };
  }

  /**
   * Whether the user may write to `path`'s source (`api/sources`).
   */
  private async _writable(path: string): Promise<boolean> {
    if (!this._sources) {
      this._sources = this.connection
        .json<ISource[]>('api/sources')
        .then(sources => new Map(sources.map(s => [s.name, s])));
      this._sources.catch(() => (this._sources = null));
    }
    const source = (await this._sources).get(path.split('/')[0]);
    return source?.writable ?? false;
  }

  /**
   * `If-Match` with the last version of `path` this tab saw, so that a save
   * never replaces a version nobody here has seen.
   */
  private _conditions(path: string): Record<string, string> {
    const etag = this._versions.get(path);
    return etag ? { 'If-Match': etag } : {};
  }

  /**
   * Records the version of a file this tab read or wrote (`opened`), or
   * a newer version of one it did, seen in a listing.
   */
  private _noteVersion(
    path: string,
    etag: string | undefined,
    opened = false
  ): void {
    if (etag && (opened || this._versions.has(path))) {
      this._versions.set(path, etag);
    }
  }

  private _forget(path: string): void {
    for (const key of [...this._versions.keys()]) {
      if (key === path || key.startsWith(path + '/')) {
        this._versions.delete(key);
      }
    }
    this._checkpoints.forget(path);
  }

  private _registry: DocumentRegistry;
  private _maxOpenSize: () => number;
  private _uploads: ChunkedUploads;
  private _checkpoints = new Checkpoints();
  private _sources: Promise<Map<string, ISource>> | null = null;
  private _versions = new Map<string, string>();
  private _fileChanged = new Signal<this, Contents.IChangedArgs>(this);
  private _isDisposed = false;
}

namespace Private {
  /**
   * A local path without leading, trailing or doubled slashes.
   */
  export function clean(path: string): string {
    return path.split('/').filter(Boolean).join('/');
  }

  /**
   * `path` cleaned, if it names something inside a source: the root holds
   * only the sources, which the proxy's configuration sets.
   */
  export function inSource(path: string): string {
    const cleaned = clean(path);
    if (!cleaned.includes('/')) {
      throw new Error(
        `${cleaned || 'The root'} is a source of the proxy: sources are set by ` +
          "the proxy's configuration, not created, renamed or deleted here"
      );
    }
    return cleaned;
  }

  /**
   * `path` cleaned, if it is a folder of a source (or a source).
   */
  export function sourceFolder(path: string, what: string): string {
    const cleaned = clean(path);
    if (!cleaned) {
      throw new Error(
        `${what} go into a source: open one of its folders first`
      );
    }
    return cleaned;
  }

  /**
   * The path of `to` within its source, if it is `from`'s source.
   */
  export function sameSource(from: string, to: string, what: string): string {
    const [source, ...rest] = to.split('/');
    if (source !== from.split('/')[0]) {
      throw new Error(
        `Cannot ${what} ${from} to ${to}: the proxy ${what}s within one source only`
      );
    }
    return rest.join('/');
  }

  export function hasStatus(error: unknown, ...statuses: number[]): boolean {
    return (
      error instanceof ServerConnection.ResponseError &&
      statuses.includes(error.response.status)
    );
  }

  /**
   * The model JupyterLab gets back for an upload's piece before the last.
   */
  export function placeholder(path: string): Contents.IModel {
    return {
      name: PathExt.basename(path),
      path,
      type: 'file',
      writable: true,
      created: '',
      last_modified: '',
      mimetype: '',
      content: null,
      format: null
    };
  }
}
