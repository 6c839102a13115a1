// Placeholder until the control plane harness lands: unit tests need nothing.
export default async function globalSetup(): Promise<void> {}
