{{ config(materialized='table') }}
select
    c.customer_id,
    c.name,
    c.country,
    count(o.order_id) as orders,
    coalesce(sum(o.amount) filter (where o.status <> 'returned'), 0) as revenue
from {{ ref('raw_customers') }} c
left join {{ ref('stg_orders') }} o on o.customer_id = c.customer_id
group by c.customer_id, c.name, c.country
