-- A singular test: rows returned are failures. Revenue per customer must equal the sum of
-- that customer's orders that were not returned.
select r.customer_id
from {{ ref('customer_revenue') }} r
left join (
    select customer_id, sum(amount) as s
    from {{ ref('stg_orders') }}
    where status <> 'returned'
    group by customer_id
) o on o.customer_id = r.customer_id
where r.revenue <> coalesce(o.s, 0)
