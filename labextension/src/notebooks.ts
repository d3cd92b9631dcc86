import { JupyterFrontEnd } from '@jupyterlab/application';

/** Opens ``path`` in this window, in front; a path that is no notebook is refused. */
export type OpenNotebook = (path: string) => Promise<void>;

export function notebookOpener(app: JupyterFrontEnd): OpenNotebook {
  return async (path: string) => {
    const model = await app.serviceManager.contents.get(path, { content: false });
    if (model.type !== 'notebook') {
      throw new Error(`${path} is a ${model.type}, not a notebook`);
    }
    const widget = await app.commands.execute('docmanager:open', { path });
    if (widget?.id) {
      app.shell.activateById(widget.id);
    }
  };
}
