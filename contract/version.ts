/** The MQTT contract version carried in every payload (`v`) and in every topic (`/v1/`). */
export const CONTRACT_VERSION = 1 as const;
