//! `date_part` / `EXTRACT` with the fields PostgreSQL has and DataFusion's lacks: `century`,
//! `decade`, `millennium` and `julian`. Every other field, the return types and the year
//! preimage (which turns `extract(year FROM ts) = 2024` into a range the scan can prune by) stay
//! DataFusion's: this wraps its function and answers only the missing fields.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Int32Array};
use datafusion::arrow::compute::kernels::cast;
use datafusion::arrow::compute::{DatePart, date_part as arrow_date_part};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::preimage::PreimageResult;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};

/// A field this module computes itself, from the year or the date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Extra {
    Century,
    Decade,
    Millennium,
    Julian,
}

fn extra(part: &str) -> Option<Extra> {
    match part.trim().trim_matches('\'').to_ascii_lowercase().as_str() {
        "century" | "centuries" | "c" | "cent" => Some(Extra::Century),
        "decade" | "decades" | "dec" | "decs" => Some(Extra::Decade),
        "millennium" | "millennia" | "mil" | "mils" | "millenniums" => Some(Extra::Millennium),
        "julian" | "j" => Some(Extra::Julian),
        _ => None,
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct DatePartPg {
    inner: ScalarUDF,
}

/// PostgreSQL's rules: the first century is years 1-100, the 21st begins in 2001; before year 1
/// (which this calendar writes as year 0 = 1 BC) they count down from -1.
fn from_year(year: i32, field: Extra) -> i32 {
    match field {
        Extra::Century if year > 0 => (year - 1) / 100 + 1,
        Extra::Century => -((-year) / 100 + 1),
        Extra::Millennium if year > 0 => (year - 1) / 1000 + 1,
        Extra::Millennium => -((-year) / 1000 + 1),
        Extra::Decade => year.div_euclid(10),
        Extra::Julian => unreachable!("julian is computed from the date"),
    }
}

fn compute(field: Extra, array: &ArrayRef) -> Result<ArrayRef> {
    if field == Extra::Julian {
        // Days since 4714-11-24 BC: the Unix epoch is Julian day 2440588.
        let days = cast::cast(array, &DataType::Date32)?;
        let days = days
            .as_any()
            .downcast_ref::<datafusion::arrow::array::Date32Array>()
            .expect("cast to Date32 gives a Date32Array");
        let out: Int32Array = days.iter().map(|d| d.map(|d| d + 2_440_588)).collect();
        return Ok(Arc::new(out));
    }
    let years = arrow_date_part(array.as_ref(), DatePart::Year)?;
    let years = years
        .as_any()
        .downcast_ref::<Int32Array>()
        .expect("date_part(year) is Int32");
    let out: Int32Array = years
        .iter()
        .map(|y| y.map(|y| from_year(y, field)))
        .collect();
    Ok(Arc::new(out))
}

impl ScalarUDFImpl for DatePartPg {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let part = args
            .scalar_arguments
            .first()
            .copied()
            .flatten()
            .and_then(|v| v.try_as_str().flatten());
        if part.and_then(extra).is_some() {
            let nullable = args.arg_fields.get(1).is_none_or(|f| f.is_nullable());
            return Ok(Arc::new(Field::new(self.name(), DataType::Int32, nullable)));
        }
        self.inner.return_field_from_args(args)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let field = match args.args.first() {
            Some(ColumnarValue::Scalar(s)) => s.try_as_str().flatten().and_then(extra),
            _ => None,
        };
        let Some(field) = field else {
            return self.inner.invoke_with_args(args);
        };
        let value = &args.args[1];
        let is_scalar = matches!(value, ColumnarValue::Scalar(_));
        let array = value.to_array(1)?;
        let out = compute(field, &array)?;
        Ok(if is_scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(out.as_ref(), 0)?)
        } else {
            ColumnarValue::Array(out)
        })
    }

    fn preimage(
        &self,
        args: &[Expr],
        lit_expr: &Expr,
        info: &SimplifyContext,
    ) -> Result<PreimageResult> {
        self.inner.preimage(args, lit_expr, info)
    }
}

/// DataFusion's `date_part`, answering PostgreSQL's extra fields too.
pub fn date_part(inner: ScalarUDF) -> ScalarUDF {
    ScalarUDF::new_from_impl(DatePartPg { inner })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centuries_decades_and_millennia_count_as_postgres_does() {
        assert_eq!(from_year(2000, Extra::Century), 20);
        assert_eq!(from_year(2001, Extra::Century), 21);
        assert_eq!(from_year(1, Extra::Century), 1);
        assert_eq!(from_year(0, Extra::Century), -1);
        assert_eq!(from_year(1999, Extra::Decade), 199);
        assert_eq!(from_year(2000, Extra::Millennium), 2);
        assert_eq!(from_year(2001, Extra::Millennium), 3);
        assert_eq!(extra("CENTURY"), Some(Extra::Century));
        assert_eq!(extra("year"), None);
    }
}
