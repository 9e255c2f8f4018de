// `npm run openapi`: writes docs/openapi.json from the code's zod schemas.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OPENAPI_FILE, generateOpenApiFile } from '../helpers/openapi-file.js';

writeFileSync(OPENAPI_FILE, await generateOpenApiFile());
console.log(`wrote ${fileURLToPath(OPENAPI_FILE)}`);
