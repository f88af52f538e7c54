/** Parameters of the general area (see config/declare.ts). */
import { declare } from '../declare.js';

export const generalParams = declare([]);
