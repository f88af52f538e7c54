/** Parameters of the noeffect area (see config/declare.ts). */
import { declare } from '../declare.js';

export const noeffectParams = declare([]);
