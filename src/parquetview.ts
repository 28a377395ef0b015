import {
  AsyncBuffer,
  cachedAsyncBuffer,
  FileMetaData,
  parquetMetadataAsync,
  parquetReadObjects,
  SchemaElement
} from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

import type { IRangeReader } from './bytes';

const PAGE_ROWS = 100;

/**
 * Renders a Parquet file into `node`: its schema, row count and row groups,
 * then its rows, a page at a time (more as the user scrolls to the end or
 * asks). Only the footer and the pages of the rows shown are read.
 */
export async function showParquet(
  node: HTMLElement,
  reader: Promise<IRangeReader>
): Promise<void> {
  const status = element('p', 'jp-fsspec-proxy-parquet-status', 'Reading…');
  node.replaceChildren(status);
  let file: AsyncBuffer;
  let metadata: FileMetaData;
  try {
    const source = await reader;
    file = cachedAsyncBuffer({
      byteLength: source.size,
      slice: (start, end) => source.read(start, end ?? source.size)
    });
    metadata = await parquetMetadataAsync(file);
  } catch (error) {
    status.textContent = `Not a readable Parquet file: ${message(error)}`;
    status.classList.add('jp-mod-error');
    return;
  }
  const columns = metadata.schema.slice(1).filter(e => !e.num_children);
  const names = topLevelNames(metadata.schema);
  const rowCount = Number(metadata.num_rows);
  status.textContent =
    `${rowCount.toLocaleString()} rows · ` +
    `${metadata.row_groups.length} row groups · ` +
    `${names.length} columns · ${codecs(metadata).join(', ')}`;
  node.append(schemaTable(columns));

  const rows = document.createElement('table');
  rows.className = 'jp-fsspec-proxy-parquet-rows';
  const head = rows.createTHead().insertRow();
  for (const name of ['#', ...names]) {
    head.append(element('th', '', name));
  }
  const body = rows.createTBody();
  const more = element('button', 'jp-mod-styled', 'More rows');
  const scroller = element('div', 'jp-fsspec-proxy-parquet-scroll');
  scroller.append(rows, more);
  node.append(scroller);

  let loading: Promise<void> | null = null;
  const loadMore = () => {
    const start = body.rows.length;
    if (loading || start >= rowCount) {
      return;
    }
    more.disabled = true;
    loading = parquetReadObjects({
      file,
      metadata,
      compressors,
      rowStart: start,
      rowEnd: Math.min(start + PAGE_ROWS, rowCount)
    })
      .then(page => {
        page.forEach((row, index) => {
          const tr = body.insertRow();
          tr.append(element('th', '', String(start + index)));
          for (const name of names) {
            const cell = element('td', '', display(row[name]));
            if (row[name] === null || row[name] === undefined) {
              cell.classList.add('jp-mod-null');
            }
            tr.append(cell);
          }
        });
      })
      .catch(error => {
        status.textContent = `Cannot read rows ${start}–: ${message(error)}`;
        status.classList.add('jp-mod-error');
      })
      .finally(() => {
        loading = null;
        more.disabled = body.rows.length >= rowCount;
        more.hidden = more.disabled;
      });
  };
  more.onclick = loadMore;
  scroller.onscroll = () => {
    const end = scroller.scrollHeight - scroller.clientHeight;
    if (scroller.scrollTop >= end - 40) {
      loadMore();
    }
  };
  loadMore();
}

/**
 * The names of the top-level columns (a nested column is one column).
 */
function topLevelNames(schema: SchemaElement[]): string[] {
  const names: string[] = [];
  let index = 1;
  while (index < schema.length) {
    names.push(schema[index].name);
    index = skip(schema, index);
  }
  return names;
}

/**
 * The index after the schema element at `index` and its descendants.
 */
function skip(schema: SchemaElement[], index: number): number {
  let next = index + 1;
  for (let child = 0; child < (schema[index].num_children ?? 0); child++) {
    next = skip(schema, next);
  }
  return next;
}

function schemaTable(columns: SchemaElement[]): HTMLElement {
  const details = document.createElement('details');
  details.className = 'jp-fsspec-proxy-parquet-schema';
  details.open = true;
  details.append(element('summary', '', 'Schema'));
  const table = document.createElement('table');
  const head = table.createTHead().insertRow();
  for (const title of ['column', 'type', 'nullable']) {
    head.append(element('th', '', title));
  }
  const body = table.createTBody();
  for (const column of columns) {
    const row = body.insertRow();
    row.append(
      element('td', '', column.name),
      element('td', '', typeName(column)),
      element('td', '', column.repetition_type === 'REQUIRED' ? 'no' : 'yes')
    );
  }
  details.append(table);
  return details;
}

function typeName(column: SchemaElement): string {
  const logical = column.logical_type;
  if (logical?.type === 'TIMESTAMP' || logical?.type === 'TIME') {
    return `${logical.type.toLowerCase()}[${logical.unit.toLowerCase()}${
      logical.isAdjustedToUTC ? ', UTC' : ''
    }]`;
  }
  if (logical?.type === 'INTEGER') {
    return `${logical.isSigned ? 'int' : 'uint'}${logical.bitWidth}`;
  }
  if (logical) {
    return logical.type.toLowerCase();
  }
  return (column.converted_type ?? column.type ?? '').toLowerCase();
}

function codecs(metadata: FileMetaData): string[] {
  const found = new Set<string>();
  for (const group of metadata.row_groups) {
    for (const chunk of group.columns) {
      if (chunk.meta_data) {
        found.add(chunk.meta_data.codec.toLowerCase());
      }
    }
  }
  return [...found].sort();
}

/**
 * A value as a table shows it.
 */
function display(value: unknown): string {
  if (value === null || value === undefined) {
    return 'null';
  }
  if (value instanceof Date) {
    return value.toISOString();
  }
  if (value instanceof Uint8Array) {
    const hex = Array.from(value.subarray(0, 32), b =>
      b.toString(16).padStart(2, '0')
    );
    return hex.join(' ') + (value.length > 32 ? ' …' : '');
  }
  if (typeof value === 'object') {
    return JSON.stringify(value, (_, v) =>
      typeof v === 'bigint' ? v.toString() : v
    );
  }
  return String(value);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text = ''
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}
