interface Stoppable {
  stop(): Promise<void>;
}

export default async function globalTeardown(): Promise<void> {
  const cp = (globalThis as { __REGCRED_CP__?: Stoppable }).__REGCRED_CP__;
  if (cp) await cp.stop();
}
