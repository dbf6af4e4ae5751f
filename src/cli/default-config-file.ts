/** The config file read when --config is not given. */
export const DEFAULT_CONFIG_FILE = './sidekey.yaml';
