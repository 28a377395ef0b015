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
 * proxy says it stands.
 */
export class ChunkedUploads {
  constructor(private readonly _connection: ProxyConnection) {}

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
      throw new Error(
        `The upload of ${path} was interrupted: upload the file again`
      );
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
      throw error;
    }
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

  private async _abort(path: string): Promise<void> {
    const session = this._sessions.get(path);
    this._sessions.delete(path);
    if (session) {
      await this._connection
        .request(this._pieceRoute(path, session.id), { method: 'DELETE' })
        .catch(() => undefined); // expired already: nothing remains either way
    }
  }

  private _sessions = new Map<string, ISession>();
}
