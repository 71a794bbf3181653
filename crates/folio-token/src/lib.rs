//! folio-token (work in progress)
