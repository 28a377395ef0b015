import { ServerConnection } from '@jupyterlab/services';

import { ProxyConnection } from './connection';
import { IEntry, route } from './models';

/**
 * `{"id", "offset", "expires"}` of an upload session.
 */
interface ISession {
  id: string;
  offset: number;
}

/**
 * JupyterLab's chunked uploads (`save()` with `chunk` 1, 2, ..., -1 for the
 * last) as the proxy's upload sessions (`api/uploads/`): each piece is
 * appended in order and streamed on to the storage; the file appears, whole,
 * with the last piece. A failed piece aborts the session, so nothing of the
 * upload remains; a piece whose answer was lost is sent again from where the
 * proxy says it stands. Cancelling aborts every open session; so does
 * leaving the page.
 */
export class ChunkedUploads {
  constructor(private readonly _connection: ProxyConnection) {
    window.addEventListener('pagehide', () => this.cancel(true));
  }

  /**
   * Whether an upload is under way.
   */
  get running(): boolean {
    return this._sessions.size > 0;
  }

  /**
   * Aborts every upload under way: their next pieces fail ("cancelled") and
   * nothing of them remains. `leaving`: the page is going away, the requests
   * must outlive it.
   */
  cancel(leaving = false): void {
    for (const path of this._sessions.keys()) {
      this._cancelled.add(path);
      void this._abort(path, leaving);
    }
  }

  /**
   * Sends piece `chunk` of `path`; the file's entry once the last is in.
   */
  async piece(
    path: string,
    chunk: number,
    piece: Blob,
    conditions: HeadersInit
  ): Promise<IEntry | null> {
    if (chunk === 1) {
      await this._abort(path); // an earlier upload of the same file that failed
      this._cancelled.delete(path);
      this._sessions.set(
        path,
        await this._connection.json<ISession>(route('api/uploads/', path), {
          method: 'POST',
          headers: conditions
        })
      );
    }
    const session = this._sessions.get(path);
    if (!session) {
      throw this._ended(path);
    }
    const last = chunk === -1;
    try {
      const answer = await this._append(path, session, piece, last);
      if (last) {
        this._sessions.delete(path);
        return (await answer.json()) as IEntry;
      }
      session.offset = ((await answer.json()) as ISession).offset;
      return null;
    } catch (error) {
      await this._abort(path);
      throw this._cancelled.has(path) ? this._ended(path) : error;
    }
  }

  /**
   * Why the upload of `path` has no session.
   */
  private _ended(path: string): Error {
    return new Error(
      this._cancelled.has(path)
        ? `The upload of ${path} was cancelled: nothing of it was kept`
        : `The upload of ${path} was interrupted: upload the file again`
    );
  }

  /**
   * PUTs the piece at the session's offset; if the connection failed, asks
   * the proxy where the upload stands and sends what it lacks, once.
   */
  private async _append(
    path: string,
    session: ISession,
    piece: Blob,
    last: boolean
  ): Promise<Response> {
    const put = (start: number, offset: number) =>
      this._connection.request(
        this._pieceRoute(path, session.id, offset, last),
        {
          method: 'PUT',
          body: piece.slice(start),
          headers: { 'Content-Type': 'application/octet-stream' }
        }
      );
    try {
      return await put(0, session.offset);
    } catch (error) {
      if (error instanceof ServerConnection.ResponseError) {
        throw error; // the proxy answered: sending again changes nothing
      }
      const state = await this._connection.json<ISession>(
        this._pieceRoute(path, session.id)
      );
      const start = state.offset - session.offset;
      if (start < 0 || start > piece.size) {
        throw error;
      }
      return await put(start, state.offset);
    }
  }

  private _pieceRoute(
    path: string,
    id: string,
    offset?: number,
    last = false
  ): string {
    const query = new URLSearchParams({ id });
    if (offset !== undefined) {
      query.set('offset', String(offset));
    }
    if (last) {
      query.set('last', 'true');
    }
    return `${route('api/uploads/', path)}?${query}`;
  }

  private async _abort(path: string, keepalive = false): Promise<void> {
    const session = this._sessions.get(path);
    this._sessions.delete(path);
    if (session) {
      await this._connection
        .request(this._pieceRoute(path, session.id), {
          method: 'DELETE',
          keepalive
        })
        .catch(() => undefined); // expired already: nothing remains either way
    }
  }

  private _sessions = new Map<string, ISession>();
  private _cancelled = new Set<string>();
}
