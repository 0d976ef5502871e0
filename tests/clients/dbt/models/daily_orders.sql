{{ config(materialized='incremental', unique_key=none) }}
select
    date_trunc('day', ordered_at) as day,
    count(*) as orders,
    sum(amount) as amount
from {{ ref('stg_orders') }}
{% if is_incremental() %}
where date_trunc('day', ordered_at) > (select coalesce(max(day), timestamp '1970-01-01') from {{ this }})
{% endif %}
group by 1
