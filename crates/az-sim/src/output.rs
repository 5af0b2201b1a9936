//! A command's result as the real az prints it: `--query` (JMESPath) first,
//! then `--output json|jsonc|tsv|none`. JSON is indented by 2 with sorted keys
//! and a trailing newline (knack's `format_json`); TSV follows knack's rules.

use serde_json::Value;

use super::error::AzError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Tsv,
    Table,
    None,
}

const ALLOWED: &str = "json, jsonc, yaml, yamlc, table, tsv, none";

impl Format {
    pub fn parse(value: &str, command: &str) -> Result<Format, AzError> {
        match value.to_ascii_lowercase().as_str() {
            // Without a terminal az prints jsonc exactly as json.
            "json" | "jsonc" => Ok(Format::Json),
            "tsv" => Ok(Format::Tsv),
            "none" => Ok(Format::None),
            "table" => Ok(Format::Table),
            "yaml" | "yamlc" => Err(AzError::sim(format!(
                "--output {value} is not simulated: use json, tsv, table or none"
            ))),
            _ => Err(AzError::usage(format!(
                "az {command}: '{value}' is not a valid value for '--output'. Allowed values: {ALLOWED}."
            ))),
        }
    }
}

pub struct Query(jmespath::Expression<'static>);

impl Query {
    pub fn compile(text: &str) -> Result<Query, AzError> {
        // az's parser prints this one with its own link and no reference
        // (fixture tests/fixtures/args/invalid_query).
        jmespath::compile(text)
            .map(Query)
            .map_err(|_| AzError::UsagePlain {
                message: format!("argument --query: invalid jmespath_type value: '{text}'"),
                recommendation: "To learn more about --query, please visit: 'https://learn.microsoft.com/cli/azure/query-azure-cli'".to_string(),
            })
    }

    pub fn apply(&self, value: &Value) -> Result<Value, AzError> {
        let found = self.0.search(value).map_err(|e| {
            AzError::cli(format!(
                "Invalid jmespath query supplied for `--query`: {e}"
            ))
        })?;
        serde_json::to_value(&*found).map_err(|e| {
            AzError::cli(format!(
                "Invalid jmespath query supplied for `--query`: {e}"
            ))
        })
    }

    /// JMESPath truthiness, as `az ... wait --custom` uses it.
    pub fn holds(&self, value: &Value) -> Result<bool, AzError> {
        let found = self.0.search(value).map_err(|e| {
            AzError::cli(format!(
                "Invalid jmespath query supplied for `--custom`: {e}"
            ))
        })?;
        Ok(found.is_truthy())
    }
}

/// The bytes for stdout; a command without a result (or a query that finds
/// nothing) prints nothing at all.
pub fn render(
    command: &str,
    result: Option<&Value>,
    format: Format,
    query: Option<&Query>,
) -> Result<String, AzError> {
    let Some(result) = result else {
        return Ok(String::new());
    };
    let queried;
    let value = match query {
        Some(q) => {
            queried = q.apply(result)?;
            &queried
        }
        None => result,
    };
    if value.is_null() {
        return Ok(String::new());
    }
    Ok(match format {
        Format::Json => to_json(value),
        Format::Tsv => to_tsv(value),
        Format::Table => match table_transformer(command).filter(|_| query.is_none()) {
            Some(transform) => tabulate(transform(value)),
            None => to_table(value, query.is_some()),
        },
        Format::None => String::new(),
    })
}

/// `json.dumps(v, indent=2, sort_keys=True, ensure_ascii=False) + "\n"`.
pub fn to_json(value: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, value, 0);
    out.push('\n');
    out
}

fn write_json(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                push_indent(out, indent + 2);
                write_json(out, item, indent + 2);
            }
            out.push('\n');
            push_indent(out, indent);
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("{\n");
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                push_indent(out, indent + 2);
                out.push_str(&Value::String((*key).clone()).to_string());
                out.push_str(": ");
                write_json(out, &map[key.as_str()], indent + 2);
            }
            out.push('\n');
            push_indent(out, indent);
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn push_indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// knack's `_TsvOutput`: one row per list item (or the one result), cells
/// separated by tabs; lists show their length, objects nothing.
pub fn to_tsv(value: &Value) -> String {
    let rows: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut out = String::new();
    for row in rows {
        match row {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let cells: Vec<String> = keys.iter().map(|k| tsv_cell(&map[k.as_str()])).collect();
                out.push_str(&cells.join("\t"));
            }
            Value::Array(items) => {
                let cells: Vec<String> = items.iter().map(tsv_cell).collect();
                out.push_str(&cells.join("\t"));
            }
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            other => out.push_str(&tsv_cell(other)),
        }
        out.push('\n');
    }
    out
}

/// The table transformer real az registers for `command`, applied instead of
/// the generic table unless `--query` is given.
fn table_transformer(command: &str) -> Option<fn(&Value) -> Vec<Row>> {
    match command {
        // azure-cli's `transform_resource_group_list`.
        "group list" => Some(|groups| {
            let rows = groups.as_array().into_iter().flatten().map(|g| {
                vec![
                    ("Name".to_string(), tsv_cell(&g["name"])),
                    ("Location".to_string(), tsv_cell(&g["location"])),
                    (
                        "Status".to_string(),
                        tsv_cell(&g["properties"]["provisioningState"]),
                    ),
                ]
            });
            rows.collect()
        }),
        _ => None,
    }
}

/// One table row: (column, cell), in column order.
type Row = Vec<(String, String)>;

/// knack's `_TableOutput` through tabulate's "simple" format (the per-command
/// transformers real az adds come first, in `table_transformer`).
pub fn to_table(value: &Value, queried: bool) -> String {
    const SKIP: [&str; 3] = ["id", "type", "etag"];
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut rows: Vec<Row> = Vec::new();
    for item in items {
        let mut row: Row = match item {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                if !queried {
                    keys.sort();
                }
                keys.into_iter()
                    .filter(|k| !SKIP.contains(&k.as_str()))
                    .filter(|k| {
                        !matches!(
                            map[k.as_str()],
                            Value::Null | Value::Array(_) | Value::Object(_)
                        )
                    })
                    .map(|k| {
                        let mut name = k.clone();
                        if let Some(first) = name.get(..1) {
                            name.replace_range(..1, &first.to_uppercase());
                        }
                        (name, tsv_cell(&map[k.as_str()]))
                    })
                    .collect()
            }
            Value::Array(cells) => cells
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("Column{}", i + 1), tsv_cell(c)))
                .collect(),
            other => vec![("Result".to_string(), tsv_cell(other))],
        };
        rows.push(std::mem::take(&mut row));
    }
    tabulate(rows)
}

/// tabulate's "simple" format: the columns in the order rows name them.
fn tabulate(rows: Vec<Row>) -> String {
    let mut headers: Vec<String> = Vec::new();
    for row in &rows {
        for (name, _) in row {
            if !headers.contains(name) {
                headers.push(name.clone());
            }
        }
    }
    if headers.is_empty() {
        return "\n".into();
    }
    let cell = |row: &Row, h: &String| {
        row.iter()
            .find(|(n, _)| n == h)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let widths: Vec<usize> = headers
        .iter()
        .map(|h| {
            rows.iter()
                .map(|r| cell(r, h).chars().count())
                .chain([h.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    // tabulate's `_build_simple_row` strips each line's end.
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![
        line(headers.clone()),
        line(widths.iter().map(|w| "-".repeat(*w)).collect()),
    ];
    for row in &rows {
        out.push(line(headers.iter().map(|h| cell(row, h)).collect()));
    }
    out.join("\n") + "\n"
}

/// Python's `str()` of a cell.
fn tsv_cell(value: &Value) -> String {
    match value {
        Value::Array(items) => items.len().to_string(),
        Value::Object(_) => String::new(),
        Value::String(s) => s.clone(),
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_is_sorted_and_indented() {
        let v = json!({"b": [1, {"z": null, "a": "x\ny"}], "a": {}, "c": []});
        assert_eq!(
            to_json(&v),
            "{\n  \"a\": {},\n  \"b\": [\n    1,\n    {\n      \"a\": \"x\\ny\",\n      \"z\": null\n    }\n  ],\n  \"c\": []\n}\n"
        );
    }

    #[test]
    fn tsv_follows_knack() {
        assert_eq!(to_tsv(&json!("a\nb")), "a\nb\n");
        assert_eq!(to_tsv(&json!(true)), "true\n");
        assert_eq!(to_tsv(&json!(["x", "y"])), "x\ny\n");
        assert_eq!(
            to_tsv(&json!([{"b": 2, "a": [1, 2], "c": {"d": 1}, "e": null, "f": false}])),
            "2\t2\t\tNone\tFalse\n"
        );
    }

    #[test]
    fn table_like_tabulate_simple() {
        let v = json!([{"name": "rg", "location": "westeurope", "id": "x", "tags": {}}, {"name": "other", "location": "eu", "managedBy": null}]);
        assert_eq!(
            to_table(&v, false),
            // tabulate pads every column but strips each line's end (the real az
            // 2.91.0 against the stand-in, tools/standin/differential.py).
            "Location    Name\n----------  -----\nwesteurope  rg\neu          other\n"
        );
    }

    #[test]
    fn query_then_format() {
        let v = json!({"value": [{"message": "hello"}]});
        let q = Query::compile("value[0].message").unwrap();
        assert_eq!(
            render("vm show", Some(&v), Format::Tsv, Some(&q)).unwrap(),
            "hello\n"
        );
        let q = Query::compile("missing").unwrap();
        assert_eq!(
            render("vm show", Some(&v), Format::Json, Some(&q)).unwrap(),
            ""
        );
        assert!(Query::compile("value[").is_err());
        assert_eq!(render("vm show", None, Format::Json, None).unwrap(), "");
        let q = Query::compile("value[?message=='hello'] | length(@)").unwrap();
        assert_eq!(
            render("vm show", Some(&v), Format::Json, Some(&q)).unwrap(),
            "1\n"
        );
    }
}
