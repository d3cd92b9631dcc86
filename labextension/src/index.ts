import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { addAgentUndoCommands } from './agentUndo';
import { addConnectCommand } from './connect';
import { CurrentNotebookReporter, reportFocusedNotebook } from './current';
import { EmbeddingChannel, answerEmbeddingPage } from './embedding';
import { followAgentSetting, followServerEvents } from './follow';
import { notebookOpener } from './notebooks';

const PLUGIN_ID = 'jupyter-mcp-ext:plugin';

/** Options the server extension puts in the page config (embedding.py). */
interface IServerOptions {
  allowedOrigins: string[];
  mcpPath: string;
}

function readServerOptions(): IServerOptions | null {
  const raw = PageConfig.getOption('jupyterMcpExt');
  if (!raw) {
    return null;
  }
  const parsed = JSON.parse(raw) as IServerOptions;
  return { allowedOrigins: parsed.allowedOrigins, mcpPath: parsed.mcpPath };
}

/**
 * Wires the three flows: this window → server and embedding page (the notebook in focus),
 * server → this window (agents open notebooks and are followed), embedding page → this window;
 * the "Connect an AI agent…" command, and "Undo/Redo agent change" for the notebook in focus.
 */
function activate(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  settingRegistry: ISettingRegistry | null,
  palette: ICommandPalette | null
): void {
  const options = readServerOptions();
  if (!options) {
    console.warn('jupyter-mcp-ext: the server extension is not enabled; the agent context is off.');
    return;
  }
  const serverSettings = app.serviceManager.serverSettings;
  const reporter = new CurrentNotebookReporter(options.mcpPath, serverSettings);
  const channel = new EmbeddingChannel(options.allowedOrigins);
  const openNotebook = notebookOpener(app);
  // Nothing here waits: JupyterLab restores its layout only once every plugin is active.
  const followAgent = followAgentSetting(settingRegistry, PLUGIN_ID);
  const focused = reportFocusedNotebook(tracker, reporter, channel, app.restored);
  followServerEvents(
    serverSettings,
    options.mcpPath,
    reporter,
    tracker,
    openNotebook,
    followAgent
  );
  answerEmbeddingPage(channel, focused, openNotebook);
  addConnectCommand(app, options.mcpPath, palette);
  addAgentUndoCommands(app, tracker, options.mcpPath, palette);
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'The MCP agent context follows the notebook on screen; agents can open notebooks and be followed.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ISettingRegistry, ICommandPalette],
  activate
};

export default plugin;
