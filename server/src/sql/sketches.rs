//! Mergeable distinct-count sketches, the state a rollup keeps for `approx_count_distinct`:
//!
//! - `hll_sketch(x)`: the Apache DataSketches HLL sketch of `x`'s non-null values, serialized
//!   (`bytea`; lg_k 12, HLL_4: about 1.6% standard error and at most ~2.6 KB, a few bytes for a
//!   handful of values);
//! - `hll_union(s)`: the union of serialized sketches, serialized;
//! - `hll_estimate(s)`: a serialized sketch's distinct-count estimate (`double precision`);
//! - `approx_count_distinct(x)`: `hll_estimate(hll_sketch(x))` rounded to a `bigint`, in one call.
//!
//! Why DataSketches and not DataFusion's own `approx_distinct`: a sketch a rollup stores is read
//! back by later versions and other machines, so its hash and its bytes must never change.
//! DataFusion's HLL hashes with ahash (whose output depends on the CPU's AES support and the
//! crate's version) and stores 16 KB registers; DataSketches hashes with seeded MurmurHash3 and
//! its serialized form is specified, the one Druid and the Java and C++ libraries read.
//!
//! Values are hashed in a canonical form, so that equal SQL values hash alike whatever their
//! Arrow width: integers, booleans, dates, times and timestamps as 64-bit integers, floats
//! as canonical doubles, text and binary as their bytes, anything else as its text.

use std::fmt::Debug;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BinaryBuilder, BooleanArray, Float64Array, Int64Array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Int64Type, UInt64Type};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::expr_fn::SimpleScalarUDF;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, EmitTo, GroupsAccumulator,
    ScalarUDF, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use datasketches::hash::value::{canonical_float, raw_bytes};
use datasketches::hll::{HllSketch, HllType, HllUnion};

/// log2 of the number of registers: Druid's default, 4096 registers.
const LG_K: u8 = 12;
/// How a sketch is stored: 4 bits per register once it leaves its exact (list/set) modes.
const STORED_TYPE: HllType = HllType::Hll4;

/// Registers the sketch functions in `ctx`.
pub fn register(ctx: &SessionContext) {
    for kind in [Kind::Build, Kind::Union, Kind::Count] {
        ctx.register_udaf(AggregateUDF::from(SketchAggregate::new(kind)));
    }
    ctx.register_udf(hll_estimate());
}

/// What one of the aggregates reads and answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// `hll_sketch(value)`: values in, a sketch out.
    Build,
    /// `hll_union(sketch)`: sketches in, their union out.
    Union,
    /// `approx_count_distinct(value)`: values in, the estimate out.
    Count,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SketchAggregate {
    kind: Kind,
    signature: Signature,
}

impl SketchAggregate {
    fn new(kind: Kind) -> Self {
        let signature = match kind {
            Kind::Union => sketch_signature(),
            Kind::Build | Kind::Count => Signature::any(1, Volatility::Immutable),
        };
        Self { kind, signature }
    }
}

impl AggregateUDFImpl for SketchAggregate {
    fn name(&self) -> &str {
        match self.kind {
            Kind::Build => "hll_sketch",
            Kind::Union => "hll_union",
            Kind::Count => "approx_count_distinct",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Kind::Build | Kind::Union => DataType::Binary,
            Kind::Count => DataType::Int64,
        })
    }

    fn is_nullable(&self) -> bool {
        false
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}[sketch]", args.name),
            DataType::Binary,
            false,
        ))])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(OneSketch(Sketches::new(self.kind))))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(Sketches::new(self.kind)))
    }

    fn default_value(&self, _data_type: &DataType) -> Result<ScalarValue> {
        Sketches::new(self.kind).scalar_of(new_union()?)
    }
}

/// One serialized sketch, in any of Arrow's binary layouts (Delta scans read `BinaryView`).
fn sketch_signature() -> Signature {
    let binaries = vec![
        DataType::Binary,
        DataType::LargeBinary,
        DataType::BinaryView,
    ];
    Signature::uniform(1, binaries, Volatility::Immutable)
}

fn new_union() -> Result<HllUnion> {
    HllUnion::new(LG_K).map_err(|e| DataFusionError::Internal(format!("HLL union: {e}")))
}

fn read_sketch(bytes: &[u8]) -> Result<HllSketch> {
    HllSketch::deserialize(bytes)
        .map_err(|e| DataFusionError::Execution(format!("not an HLL sketch: {e}")))
}

/// One union per group: a union, not a sketch, because every kind merges (DataFusion's two
/// aggregation phases merge states even when the input is values).
struct Sketches {
    kind: Kind,
    groups: Vec<HllUnion>,
}

impl Sketches {
    fn new(kind: Kind) -> Self {
        Self {
            kind,
            groups: Vec::new(),
        }
    }

    fn grow(&mut self, total: usize) -> Result<()> {
        while self.groups.len() < total {
            self.groups.push(new_union()?);
        }
        Ok(())
    }

    /// Adds `values` (values or serialized sketches, by `sketches`) to their groups.
    fn add(
        &mut self,
        values: &ArrayRef,
        group_indices: &[usize],
        filter: Option<&BooleanArray>,
        total: usize,
        sketches: bool,
    ) -> Result<()> {
        self.grow(total)?;
        let take = |row: usize| {
            values.is_valid(row) && filter.is_none_or(|f| f.is_valid(row) && f.value(row))
        };
        if sketches {
            let bytes = cast(values, &DataType::Binary)?;
            let bytes = bytes.as_binary::<i32>();
            for (row, &group) in group_indices.iter().enumerate() {
                if take(row) {
                    self.groups[group].update(&read_sketch(bytes.value(row))?);
                }
            }
            return Ok(());
        }
        match Canonical::of(values)? {
            Canonical::Int(ints) => {
                for (row, &group) in group_indices.iter().enumerate() {
                    if take(row) {
                        self.groups[group].update_value(ints.value(row));
                    }
                }
            }
            Canonical::Float(floats) => {
                for (row, &group) in group_indices.iter().enumerate() {
                    if take(row) {
                        let value = canonical_float::from_f64(floats.value(row));
                        self.groups[group].update_value(value);
                    }
                }
            }
            Canonical::Bytes(bytes) => {
                for (row, &group) in group_indices.iter().enumerate() {
                    if take(row) {
                        let value = raw_bytes::from_slice(bytes.value(row));
                        self.groups[group].update_value(value);
                    }
                }
            }
        }
        Ok(())
    }

    fn serialized(union: &HllUnion) -> Vec<u8> {
        union.to_sketch(STORED_TYPE).serialize()
    }

    fn scalar_of(&self, union: HllUnion) -> Result<ScalarValue> {
        Ok(match self.kind {
            Kind::Build | Kind::Union => ScalarValue::Binary(Some(Self::serialized(&union))),
            Kind::Count => ScalarValue::Int64(Some(union.estimate().round() as i64)),
        })
    }

    fn states(groups: &[HllUnion]) -> ArrayRef {
        let mut builder = BinaryBuilder::new();
        for union in groups {
            builder.append_value(Self::serialized(union));
        }
        Arc::new(builder.finish())
    }
}

impl GroupsAccumulator for Sketches {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let sketches = self.kind == Kind::Union;
        self.add(
            &values[0],
            group_indices,
            opt_filter,
            total_num_groups,
            sketches,
        )
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let groups = emit_to.take_needed(&mut self.groups);
        Ok(match self.kind {
            Kind::Build | Kind::Union => Self::states(&groups),
            Kind::Count => Arc::new(
                groups
                    .iter()
                    .map(|union| Some(union.estimate().round() as i64))
                    .collect::<Int64Array>(),
            ),
        })
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![Self::states(&emit_to.take_needed(&mut self.groups))])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.add(&values[0], group_indices, None, total_num_groups, true)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let rows = values[0].len();
        let mut each = Sketches::new(self.kind);
        let groups: Vec<usize> = (0..rows).collect();
        each.add(
            &values[0],
            &groups,
            opt_filter,
            rows,
            self.kind == Kind::Union,
        )?;
        Ok(vec![Self::states(&each.groups)])
    }

    fn size(&self) -> usize {
        size_of::<Self>()
            + self
                .groups
                .iter()
                .map(HllUnion::estimated_size)
                .sum::<usize>()
    }
}

/// The aggregate without `GROUP BY`: the same unions with one group.
struct OneSketch(Sketches);

impl Debug for OneSketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OneSketch({:?})", self.0.kind)
    }
}

impl OneSketch {
    fn take(&mut self) -> Result<HllUnion> {
        self.0.grow(1)?;
        Ok(std::mem::replace(&mut self.0.groups[0], new_union()?))
    }
}

impl Accumulator for OneSketch {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let sketches = self.0.kind == Kind::Union;
        let groups = vec![0; values[0].len()];
        self.0.add(&values[0], &groups, None, 1, sketches)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let union = self.take()?;
        self.0.scalar_of(union)
    }

    fn size(&self) -> usize {
        GroupsAccumulator::size(&self.0)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let union = self.take()?;
        Ok(vec![ScalarValue::Binary(Some(Sketches::serialized(
            &union,
        )))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let groups = vec![0; states[0].len()];
        self.0.add(&states[0], &groups, None, 1, true)
    }
}

/// Values in the form they are hashed in (see the module comment).
enum Canonical {
    Int(Int64Array),
    Float(Float64Array),
    Bytes(BinaryArray),
}

impl Canonical {
    fn of(values: &ArrayRef) -> Result<Self> {
        use DataType::*;
        Ok(match values.data_type() {
            // Reinterpreted, not cast: a cast would turn values above i64::MAX into NULLs.
            UInt64 => Self::Int(values.as_primitive::<UInt64Type>().unary(|v| v as i64)),
            Boolean | Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 => {
                Self::Int(cast(values, &Int64)?.as_primitive::<Int64Type>().clone())
            }
            Date32 | Date64 | Time32(_) | Time64(_) | Timestamp(..) | Duration(_) => {
                match cast(values, &Int64) {
                    Ok(ints) => Self::Int(ints.as_primitive::<Int64Type>().clone()),
                    Err(_) => Self::text(values)?,
                }
            }
            Float16 | Float32 | Float64 => Self::Float(
                cast(values, &Float64)?
                    .as_primitive::<Float64Type>()
                    .clone(),
            ),
            Binary | LargeBinary | BinaryView | FixedSizeBinary(_) => {
                Self::Bytes(cast(values, &Binary)?.as_binary::<i32>().clone())
            }
            _ => Self::text(values)?,
        })
    }

    /// Text's bytes (for text itself, and for every type hashed as its text).
    fn text(values: &ArrayRef) -> Result<Self> {
        let text = cast(values, &DataType::Utf8)?;
        Ok(Self::Bytes(
            cast(&text, &DataType::Binary)?.as_binary::<i32>().clone(),
        ))
    }
}

/// `hll_estimate(sketch)`: NULL for NULL, an error for bytes that are not a sketch.
fn hll_estimate() -> ScalarUDF {
    ScalarUDF::from(SimpleScalarUDF::new_with_signature(
        "hll_estimate",
        sketch_signature(),
        DataType::Float64,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let bytes = cast(&arrays[0], &DataType::Binary)?;
            let bytes = bytes.as_binary::<i32>();
            let estimates = (0..bytes.len())
                .map(|row| {
                    (bytes.is_valid(row))
                        .then(|| read_sketch(bytes.value(row)).map(|s| s.estimate()))
                        .transpose()
                })
                .collect::<Result<Float64Array>>()?;
            let scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
            let array: ArrayRef = Arc::new(estimates);
            crate::pg_compat::functions::columnar(array, scalar)
        }),
    ))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Float64Array, Int64Array};

    async fn one_row(sql: &str) -> datafusion::arrow::record_batch::RecordBatch {
        let ctx = SessionContext::new();
        super::register(&ctx);
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
    }

    use super::*;

    #[tokio::test]
    async fn small_sets_are_counted_exactly_whatever_their_type_and_nulls_are_not_counted() {
        let batch = one_row(
            "SELECT approx_count_distinct(x), approx_count_distinct(y), approx_count_distinct(z) \
             FROM (SELECT x, CAST(x AS SMALLINT) AS y, CAST(x AS TEXT) AS z \
                   FROM (VALUES (1), (2), (2), (3), (NULL)) t(x)) AS u",
        )
        .await;
        for column in 0..3 {
            let counts = batch
                .column(column)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            assert_eq!(counts.value(0), 3, "column {column}");
        }
    }

    #[tokio::test]
    async fn the_union_of_partial_sketches_estimates_the_whole_within_its_error() {
        // 20,000 distinct values in 40 groups of 1,000 overlapping by half: the union of the
        // 40 sketches must estimate the 20,500 distinct values within 5% (the standard error
        // at lg_k 12 is 1.6%).
        let batch = one_row(
            "WITH parts AS (SELECT g, hll_sketch(v) AS s FROM \
               (SELECT value % 40 AS g, (value % 40) * 500 + (value / 40) % 1000 AS v \
                FROM generate_series(0, 39999) AS t(value)) GROUP BY g) \
             SELECT hll_estimate(hll_union(s)), CAST(count(*) AS DOUBLE) FROM parts",
        )
        .await;
        let estimate = batch
            .column(0)
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .value(0);
        let exact = 39.0 * 500.0 + 1000.0;
        assert!(
            (estimate - exact).abs() / exact < 0.05,
            "estimate {estimate}, exact {exact}"
        );
    }
}
