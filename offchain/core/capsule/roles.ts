/** The capsule roles of a task (the `role` bound into each capsule's associated data). */
export const INPUT_ROLE = "input";
export const RESULT_ROLE = "result";
/** The key broker's grant: the task private key sealed to the executor HPC's ephemeral key. */
export const TASK_KEY_ROLE = "task-key";
