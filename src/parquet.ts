import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ABCWidgetFactory,
  DocumentModel,
  DocumentRegistry,
  DocumentWidget,
  IDocumentWidget
} from '@jupyterlab/docregistry';
import { Contents } from '@jupyterlab/services';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { spreadsheetIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import type { IRangeReader } from './bytes';
import { ProxyDrive } from './drive';
import { IStorageDrive } from './tokens';

const FILE_TYPE = 'parquet';
const MODEL_NAME = 'fsspec-proxy-unread';
const FACTORY = 'Parquet Table';

/**
 * Parquet files open as a table: schema, row count, row groups and rows,
 * read by byte ranges (the footer, then the pages the rows shown need),
 * never as a whole.
 */
export const parquetPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-fsspec-proxy:parquet',
  description: 'Parquet files as tables, read by byte ranges',
  autoStart: true,
  optional: [IStorageDrive, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    drive: ProxyDrive | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('jupyterlab');
    app.docRegistry.addFileType({
      name: FILE_TYPE,
      displayName: trans.__('Parquet'),
      extensions: ['.parquet', '.parq'],
      mimeTypes: ['application/vnd.apache.parquet'],
      contentType: 'file',
      fileFormat: 'base64',
      icon: spreadsheetIcon
    });
    app.docRegistry.addModelFactory(new UnreadModelFactory());
    app.docRegistry.addWidgetFactory(
      new ParquetFactory(
        {
          name: FACTORY,
          label: trans.__('Parquet Table'),
          modelName: MODEL_NAME,
          fileTypes: [FILE_TYPE],
          defaultFor: [FILE_TYPE],
          readOnly: true
        },
        context => rangeReader(app, drive, context)
      )
    );
  }
};

/**
 * Models whose file is never loaded (`fileFormat: null`): the view reads
 * what it needs itself.
 */
class UnreadModelFactory implements DocumentRegistry.IModelFactory<DocumentRegistry.IModel> {
  readonly name = MODEL_NAME;
  readonly contentType: Contents.ContentType = 'file';
  readonly fileFormat: Contents.FileFormat = null;
  readonly collaborative = false;
  isDisposed = false;

  dispose(): void {
    this.isDisposed = true;
  }

  preferredLanguage(): string {
    return '';
  }

  createNew(): DocumentRegistry.IModel {
    return new DocumentModel({ collaborationEnabled: false });
  }
}

class ParquetFactory extends ABCWidgetFactory<IDocumentWidget<Widget>> {
  constructor(
    options: DocumentRegistry.IWidgetFactoryOptions<IDocumentWidget<Widget>>,
    private readonly _reader: (
      context: DocumentRegistry.Context
    ) => Promise<IRangeReader>
  ) {
    super(options);
  }

  protected createNewWidget(
    context: DocumentRegistry.Context
  ): IDocumentWidget<Widget> {
    const content = new Widget();
    content.addClass('jp-fsspec-proxy-parquet');
    const reader = context.ready.then(() => this._reader(context));
    // the reader and its decompressors load with the first Parquet file
    void import('./parquetview').then(view =>
      view.showParquet(content.node, reader)
    );
    const widget = new DocumentWidget({ context, content });
    widget.title.icon = spreadsheetIcon;
    return widget;
  }
}

/**
 * Range reads of the document's file: through the drive (its connection,
 * same-origin cookie or the user's token), else through the download URL
 * of the file's own drive (JupyterLab's `files/`, with the session cookie).
 */
async function rangeReader(
  app: JupyterFrontEnd,
  drive: ProxyDrive | null,
  context: DocumentRegistry.Context
): Promise<IRangeReader> {
  const contents = app.serviceManager.contents;
  const path = context.path;
  if (drive && contents.driveName(path) === drive.name) {
    const localPath = contents.localPath(path);
    const size =
      context.contentsModel?.size ?? (await drive.info(localPath)).size;
    return {
      size,
      read: (start, end) => drive.readRange(localPath, start, end)
    };
  }
  const url = await contents.getDownloadUrl(path);
  const size = (await contents.get(path, { content: false })).size ?? 0;
  return {
    size,
    read: async (start, end) => {
      const answer = await fetch(url, {
        credentials: 'same-origin',
        headers: { Range: `bytes=${start}-${end - 1}` }
      });
      if (!answer.ok) {
        throw new Error(`${answer.status} ${answer.statusText}`);
      }
      return answer.arrayBuffer();
    }
  };
}
