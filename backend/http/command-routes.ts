import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { COMMAND_NAMES } from '../../contract/index.js';
import type { CommandSender } from '../commands/command-client.js';
import { CommandError } from '../commands/command-errors.js';
import type { BackendConfig } from '../config.js';
import { ApiError } from '../errors.js';
import { COMMAND_DOCS, CommandAnswerSchema, CommandBody, CommandParams, OfflineErrorBody } from './command-schemas.js';
import { DeviceParams, errorResponses } from './schemas.js';

export interface CommandRouteDeps {
  commands: CommandSender;
  settings: Pick<BackendConfig['commands'], 'defaultTimeoutMs' | 'maxTimeoutMs'>;
  /** http.handlerTimeoutMs: the command routes get at least the longest command timeout on top. */
  handlerTimeoutMs: number;
}

const security = [{ bearer: [] }];

const DESCRIPTION =
  'Sends the command to the agent of the device over MQTT (QoS 1 on cmd/v1/{device}/{command}, with a requestId and a deadline) ' +
  'and answers 200 with its reply, whatever its outcome (ok, refused, failed). The body may be left out: no arguments, the ' +
  'default timeout. Errors: 400 API_BAD_REQUEST for a bad body or ' +
  'bad arguments (nothing is sent); 404 API_DEVICE_NOT_FOUND for a device that never sent a status; 409 API_DEVICE_OFFLINE at ' +
  'once when the device is offline, with offlineSince; 429 API_DEVICE_BUSY at once when commands.maxInFlightPerDevice commands ' +
  'to this device (or commands.maxInFlight in all) already wait for a reply: refused, not queued, retry later; 503 ' +
  'API_BROKER_UNAVAILABLE when the backend is not connected to the broker, or while its store fails or is behind (a reply ' +
  'would wait behind readings on the same MQTT session, so nothing is sent); 504 API_DEVICE_TIMEOUT when no reply comes within ' +
  'timeoutMs (the agent drops the request once past its deadline, and a later reply is dropped). A name that is not a command ' +
  'answers 404 API_COMMAND_UNKNOWN.';

/** Each command's API error; the exhaustive switch makes a new CommandError code a compile error here. */
function toApiError(error: CommandError): ApiError {
  switch (error.code) {
    case 'COMMAND_BAD_ARGS':
      return new ApiError('API_BAD_REQUEST', error.message);
    case 'COMMAND_DEVICE_UNKNOWN':
      return new ApiError('API_DEVICE_NOT_FOUND', error.message);
    case 'COMMAND_DEVICE_OFFLINE':
      return new ApiError('API_DEVICE_OFFLINE', error.message, {}, { offlineSince: error.offlineSince });
    case 'COMMAND_BUSY':
      return new ApiError('API_DEVICE_BUSY', error.message, { 'retry-after': '1' });
    case 'COMMAND_UNAVAILABLE':
      return new ApiError('API_BROKER_UNAVAILABLE', error.message, { 'retry-after': '5' });
    case 'COMMAND_TIMEOUT':
      return new ApiError('API_DEVICE_TIMEOUT', error.message);
    case 'COMMAND_CLOSED':
      return new ApiError('API_NOT_READY', error.message);
  }
}

/**
 * POST /api/v1/devices/{device}/commands/{command}: the synchronous face of the MQTT commands.
 * One route per command, so each has its own scope, argument schema and examples in the OpenAPI
 * document; a route for any other name answers API_COMMAND_UNKNOWN rather than a bare 404.
 */
export function registerCommandRoutes(app: FastifyInstance, { commands, settings, handlerTimeoutMs }: CommandRouteDeps): void {
  // The handler's last-resort budget must not cut a command short of the timeout it asked for.
  const handlerTimeout = Math.max(handlerTimeoutMs, settings.maxTimeoutMs + 5000);
  for (const command of COMMAND_NAMES) {
    const doc = COMMAND_DOCS[command];
    const Body = CommandBody(command, settings.maxTimeoutMs);
    app.post<{ Params: DeviceParams; Body: Static<typeof Body> }>(
      `/api/v1/devices/:device/commands/${command}`,
      {
        config: { access: doc.access },
        handlerTimeout,
        // No body at all (curl -X POST) means no arguments and the default timeout.
        preValidation: (request, _reply, done) => {
          request.body ??= {};
          done();
        },
        schema: {
          tags: ['commands'],
          summary: `${command}: ${doc.summary} (${doc.access} scope)`,
          description: DESCRIPTION,
          security,
          params: DeviceParams,
          body: Body,
          response: {
            200: CommandAnswerSchema(command),
            409: OfflineErrorBody,
            ...errorResponses(400, 401, 403, 404, 429, 503, 504),
          },
        },
      },
      async (request) => {
        const { device } = request.params;
        try {
          return await commands.send({
            device,
            command,
            args: request.body.args,
            timeoutMs: request.body.timeoutMs ?? settings.defaultTimeoutMs,
            requester: request.principal?.name ?? 'open-access',
          });
        } catch (error) {
          throw error instanceof CommandError ? toApiError(error) : error;
        }
      },
    );
  }

  app.post<{ Params: Static<typeof CommandParams> }>(
    '/api/v1/devices/:device/commands/:command',
    // Read scope: whoever may send any command may learn which names exist.
    { config: { access: 'read' }, schema: { hide: true, params: CommandParams } },
    (request) => {
      const known = COMMAND_NAMES.join(', ');
      throw new ApiError(
        'API_COMMAND_UNKNOWN',
        `command: ${JSON.stringify(request.params.command)} is not a command; the commands are ${known}`,
      );
    },
  );
}
