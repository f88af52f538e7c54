/** Parameters of the tables area (see config/declare.ts). */
import { declare } from '../declare.js';

export const tablesParams = declare([]);
