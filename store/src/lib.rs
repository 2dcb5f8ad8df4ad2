//! govrec store
