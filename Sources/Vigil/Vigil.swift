// The umbrella module: `import Vigil` brings the whole public API (the
// prober, the backends, the store and restore), so an embedding daemon needs
// one import. The layered modules stay available for a caller that wants
// only part of it (`VigilCore` alone has no store and no JSON).
@_exported public import VigilCore
@_exported public import VigilBackends
@_exported public import VigilJSON
@_exported public import VigilStore
@_exported public import VigilRestore
@_exported public import VigilBotmux
