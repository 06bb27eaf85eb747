//! The generated MTCTI3 types (`proto/mtcti3.proto`), named as the document names them.

#![allow(clippy::all, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/_.rs"));
