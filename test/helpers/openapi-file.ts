import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { loadConfig } from '../../src/config.js';
import { buildOpenApiDocument } from '../../src/openapi.js';

/** The committed reference: the document of a gateway on default settings. */
export const OPENAPI_FILE = new URL('../../docs/openapi.json', import.meta.url);

/** The text `npm run openapi` writes: the default document, formatted as the repository's JSON is. */
export async function generateOpenApiFile(): Promise<string> {
  const config = loadConfig({});
  const document = buildOpenApiDocument({ maxXuids: config.requests.maxXuids });
  const filepath = fileURLToPath(OPENAPI_FILE);
  const options = await resolveConfig(filepath);
  return format(JSON.stringify(document), { ...options, filepath });
}
