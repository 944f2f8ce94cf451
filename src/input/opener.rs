//! The one place an input file is opened for reading (`source`, the
//! reader, a workbook's parts): commands never call `File::open` on an
//! input themselves. (calamine opens a workbook by its path too.)

use std::fs::File;
use std::io;
use std::path::Path;

/// Opens an input file for reading: every read of the input starts here.
pub fn open_file(path: &Path) -> io::Result<File> {
    File::open(path)
}
