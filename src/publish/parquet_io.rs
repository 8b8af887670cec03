//! The one place that owns Parquet writer settings (zstd, statistics, dictionary encoding, no wall-clock
//! time), and reading a published partition back.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::schema::types::ColumnPath;
use sha2::{Digest, Sha256};

/// Writer settings for every published file. Nothing time-dependent goes in, so the same batch always
/// encodes to the same bytes. Strings are dictionary-encoded where they repeat: a string column whose
/// values are mostly distinct (credit codes, enterprise names) is written plain, which is both smaller
/// and faster than a dictionary that overflows and falls back.
pub fn writer_properties(batch: &RecordBatch) -> WriterProperties {
    let mut builder = base_properties();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if let Some(strings) = column.as_any().downcast_ref::<StringArray>()
            && mostly_distinct(strings)
        {
            builder = builder
                .set_column_dictionary_enabled(ColumnPath::from(field.name().as_str()), false);
        }
    }
    builder.build()
}

/// More than half the (non-null) values distinct, on a table large enough to matter.
fn mostly_distinct(strings: &StringArray) -> bool {
    let n = strings.len() - strings.null_count();
    if n < 1024 {
        return false;
    }
    let mut seen = std::collections::HashSet::with_capacity_and_hasher(
        n,
        ahash::RandomState::with_seeds(1, 2, 3, 4),
    );
    strings.iter().flatten().for_each(|s| {
        seen.insert(s);
    });
    seen.len() * 2 > n
}

fn base_properties() -> parquet::file::properties::WriterPropertiesBuilder {
    WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_dictionary_enabled(true)
        .set_created_by(format!("fugong {}", env!("CARGO_PKG_VERSION")))
        .set_max_row_group_row_count(Some(1 << 20))
}

/// Below this many rows a batch's columns are encoded on one thread (threads would cost more).
const PARALLEL_MIN_ROWS: usize = 16_384;

/// Encode one batch as a complete Parquet file (one row group). A large batch's columns are encoded on
/// every core, each column by one thread, and put together in the schema's order: the bytes are those
/// `ArrowWriter` writes on one thread.
pub fn encode(batch: &RecordBatch) -> Result<Vec<u8>, ParquetError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rows_fit_one_group = batch.num_rows() <= (1 << 20);
    if threads < 2 || batch.num_rows() < PARALLEL_MIN_ROWS || !rows_fit_one_group {
        return encode_sequential(batch);
    }
    let mut bytes = Vec::new();
    let writer = ArrowWriter::try_new(&mut bytes, batch.schema(), Some(writer_properties(batch)))?;
    let (mut file, factory) = writer.into_serialized_writer()?;
    let writers = factory.create_column_writers(0)?;
    let mut leaves = Vec::with_capacity(writers.len());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        leaves.extend(parquet::arrow::arrow_writer::compute_leaves(field, column)?);
    }
    if leaves.len() != writers.len() {
        return encode_sequential(batch);
    }
    // Each thread takes every `threads`-th column; the chunks come back in column order.
    let mut jobs: Vec<Vec<(usize, _, _)>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, (writer, leaf)) in writers.into_iter().zip(leaves).enumerate() {
        jobs[i % threads].push((i, writer, leaf));
    }
    // On rayon's threads, which live as long as the process, rather than two new threads per part
    // (a large run encodes dozens of parts).
    use rayon::prelude::*;
    let encoded: Vec<Result<Vec<(usize, _)>, ParquetError>> = jobs
        .into_par_iter()
        .map(|job| {
            job.into_iter()
                .map(|(i, mut writer, leaf)| {
                    writer.write(&leaf)?;
                    Ok((i, writer.close()?))
                })
                .collect::<Result<Vec<_>, ParquetError>>()
        })
        .collect();
    let mut chunks = Vec::new();
    for part in encoded {
        chunks.extend(part?);
    }
    chunks.sort_by_key(|(i, _)| *i);
    let mut row_group = file.next_row_group()?;
    for (_, chunk) in chunks {
        chunk.append_to_row_group(&mut row_group)?;
    }
    row_group.close()?;
    file.close()?;
    Ok(bytes)
}

/// Encode one batch as a complete Parquet file on this thread.
fn encode_sequential(batch: &RecordBatch) -> Result<Vec<u8>, ParquetError> {
    let mut bytes = Vec::new();
    let mut writer =
        ArrowWriter::try_new(&mut bytes, batch.schema(), Some(writer_properties(batch)))?;
    writer.write(batch)?;
    writer.close()?;
    Ok(bytes)
}

/// `part-00000-<first 16 hex of sha256>.parquet`: predictable, ordered by part, and different whenever
/// the content is.
pub fn file_name(part: usize, bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("part-{part:05}-{hex}.parquet")
}

/// Read every Parquet file of a partition folder (in name order).
pub fn read_partition(dir: &Path) -> Result<Vec<RecordBatch>, ParquetError> {
    read_partition_columns(dir, None)
}

/// The batches of a partition folder with only the named columns (those the files have), read
/// without decoding the others: for a run that needs three columns of yesterday's 570,000 rows.
pub fn read_partition_columns(
    dir: &Path,
    columns: Option<&[&str]>,
) -> Result<Vec<RecordBatch>, ParquetError> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| ParquetError::External(Box::new(e)))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    let mut batches = Vec::new();
    for path in files {
        let file = std::fs::File::open(&path).map_err(|e| ParquetError::External(Box::new(e)))?;
        let builder = project(ParquetRecordBatchReaderBuilder::try_new(file)?, columns);
        let schema = Arc::clone(builder.schema());
        let before = batches.len();
        for batch in builder.build()? {
            batches.push(batch?);
        }
        if batches.len() == before {
            // An empty table still has its schema.
            batches.push(RecordBatch::new_empty(schema));
        }
    }
    Ok(batches)
}

/// Every batch of a partition folder's files (in name order), with only the named columns (all for
/// None), handed over as read; a folder that does not exist has none.
pub fn each_batch_in(
    dir: &Path,
    columns: Option<&[&str]>,
    f: &mut dyn FnMut(RecordBatch) -> Result<(), ParquetError>,
) -> Result<(), ParquetError> {
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ParquetError::External(Box::new(e))),
    };
    files.sort();
    for path in files {
        let file = std::fs::File::open(&path).map_err(|e| ParquetError::External(Box::new(e)))?;
        for batch in project(ParquetRecordBatchReaderBuilder::try_new(file)?, columns).build()? {
            f(batch?)?;
        }
    }
    Ok(())
}

/// Every batch of one Parquet file held in memory.
pub fn read_bytes(bytes: bytes::Bytes) -> Result<Vec<RecordBatch>, ParquetError> {
    read_bytes_columns(bytes, None)
}

/// Keep only the named columns of a reader (all of them for None).
fn project<T: parquet::file::reader::ChunkReader + 'static>(
    builder: ParquetRecordBatchReaderBuilder<T>,
    columns: Option<&[&str]>,
) -> ParquetRecordBatchReaderBuilder<T> {
    match columns {
        Some(names) => {
            let mask = parquet::arrow::ProjectionMask::columns(
                builder.parquet_schema(),
                names.iter().copied(),
            );
            builder.with_projection(mask)
        }
        None => builder,
    }
}

/// The named columns of one Parquet file held in memory.
pub fn read_bytes_columns(
    bytes: bytes::Bytes,
    columns: Option<&[&str]>,
) -> Result<Vec<RecordBatch>, ParquetError> {
    let builder = project(ParquetRecordBatchReaderBuilder::try_new(bytes)?, columns);
    let schema = Arc::clone(builder.schema());
    let mut batches = Vec::new();
    for batch in builder.build()? {
        batches.push(batch?);
    }
    if batches.is_empty() {
        batches.push(RecordBatch::new_empty(schema));
    }
    Ok(batches)
}

/// The rows a Parquet file holds, from its footer.
pub fn row_count(bytes: &[u8]) -> Result<u64, ParquetError> {
    use parquet::file::reader::FileReader;
    let reader =
        parquet::file::reader::SerializedFileReader::new(bytes::Bytes::copy_from_slice(bytes))?;
    Ok(u64::try_from(reader.metadata().file_metadata().num_rows()).unwrap_or(0))
}

/// The Arrow schema a Parquet file was written with.
pub fn arrow_schema(bytes: &[u8]) -> Option<arrow::datatypes::SchemaRef> {
    ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))
        .ok()
        .map(|b| Arc::clone(b.schema()))
}

/// One schema for all batches (for callers that concatenate).
pub fn concat(batches: &[RecordBatch]) -> Option<RecordBatch> {
    let schema = batches.first()?.schema();
    arrow::compute::concat_batches(&Arc::clone(&schema), batches).ok()
}

/// The Arrow schema in a Parquet file's footer, read without its data.
pub fn file_schema(path: &Path) -> Result<arrow::datatypes::SchemaRef, ParquetError> {
    let file = std::fs::File::open(path).map_err(|e| ParquetError::External(Box::new(e)))?;
    Ok(ParquetRecordBatchReaderBuilder::try_new(file)?
        .schema()
        .clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    #[test]
    fn same_batch_same_bytes_and_settings_are_in_the_footer() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("s", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(StringArray::from(vec!["济南市", "济南市", "青岛市"])),
            ],
        )
        .expect("batch");
        let a = encode(&batch).expect("encode");
        let b = encode(&batch).expect("encode");
        assert_eq!(a, b);
        let reader =
            parquet::file::reader::SerializedFileReader::new(bytes::Bytes::from(a)).expect("read");
        use parquet::file::reader::FileReader;
        let meta = reader.metadata();
        let col = meta.row_group(0).column(1);
        assert!(matches!(col.compression(), Compression::ZSTD(_)));
        assert!(col.statistics().is_some());
        assert!(col.dictionary_page_offset().is_some());
    }

    #[test]
    fn a_large_batch_encoded_on_every_core_is_byte_for_byte_what_one_thread_writes() {
        use arrow::array::{BooleanArray, Date32Array, Decimal128Array};
        let n = 40_000;
        let schema = Arc::new(Schema::new(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("city", DataType::Utf8, false),
            Field::new("n", DataType::Int64, true),
            Field::new("flag", DataType::Boolean, true),
            Field::new("day", DataType::Date32, false),
            Field::new("money", DataType::Decimal128(18, 2), true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("91370102MA{i:08}")),
                )),
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| ["济南市", "青岛市", "淄博市"][i % 3]),
                )),
                Arc::new(Int64Array::from_iter(
                    (0..n).map(|i| (i % 7 != 0).then_some(i as i64 * 3)),
                )),
                Arc::new(BooleanArray::from_iter(
                    (0..n).map(|i| (i % 5 != 0).then_some(i % 2 == 0)),
                )),
                Arc::new(Date32Array::from_iter_values(
                    (0..n).map(|i| 18_000 + (i % 30) as i32),
                )),
                Arc::new(
                    Decimal128Array::from_iter(
                        (0..n).map(|i| (i % 11 != 0).then_some(i as i128 * 101)),
                    )
                    .with_precision_and_scale(18, 2)
                    .expect("decimal"),
                ),
            ],
        )
        .expect("batch");
        assert!(batch.num_rows() >= PARALLEL_MIN_ROWS);
        let parallel = encode(&batch).expect("encode");
        let sequential = encode_sequential(&batch).expect("encode");
        assert!(parallel == sequential, "the bytes differ");
        let back: Vec<RecordBatch> =
            ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(parallel))
                .expect("read")
                .build()
                .expect("reader")
                .collect::<Result<_, _>>()
                .expect("batches");
        let rows: usize = back.iter().map(RecordBatch::num_rows).sum();
        assert_eq!(rows, n);
        assert_eq!(
            back[0].column(0).as_ref(),
            &batch.column(0).slice(0, back[0].num_rows()) as &dyn Array
        );
    }
}
