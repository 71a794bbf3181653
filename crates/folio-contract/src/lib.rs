//! folio-contract (work in progress)
