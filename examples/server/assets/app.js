// Callbook dashboard: shared module (see src/web/mod.rs).
