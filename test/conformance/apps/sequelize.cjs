// A node:http app whose one route, POST /checkout, runs a fixed set of Sequelize statements on PostgreSQL: a managed
// transaction (START TRANSACTION … COMMIT) around reads, inserts and updates, then a read after it. It answers with the
// number of statements Sequelize sent for the request (counted by Sequelize's own `logging` hook), so a test can
// compare that with the request's rollup.db.count.
'use strict';
const { createServer } = require('node:http');
const { load } = require('./downstream.cjs');

const { Sequelize, DataTypes } = load('sequelize');
const prefix = process.env.CONFORMANCE_QUEUE.replace(/[^a-z0-9_]/gi, '_').toLowerCase();
let statements = 0;
const sequelize = new Sequelize('postgres', 'postgres', '', {
  host: '127.0.0.1',
  port: 5432,
  dialect: 'postgres',
  logging: () => statements++,
  pool: { max: 4 },
});
const User = sequelize.define('User', { name: DataTypes.STRING }, { tableName: `${prefix}_users`, timestamps: false });
const Product = sequelize.define('Product', { stock: DataTypes.INTEGER }, { tableName: `${prefix}_products`, timestamps: false });
const Order = sequelize.define('Order', { userId: DataTypes.INTEGER, total: DataTypes.INTEGER }, { tableName: `${prefix}_orders`, timestamps: false });
const Item = sequelize.define('Item', { orderId: DataTypes.INTEGER, productId: DataTypes.INTEGER }, { tableName: `${prefix}_items`, timestamps: false });

async function checkout() {
  const order = await sequelize.transaction(async (transaction) => {
    const user = await User.findByPk(1, { transaction });
    const products = await Product.findAll({ where: { id: [1, 2, 3] }, order: [['id', 'ASC']], transaction });
    const created = await Order.create({ userId: user.id, total: 0 }, { transaction });
    for (const product of products) await Item.create({ orderId: created.id, productId: product.id }, { transaction });
    for (const product of products) await product.decrement('stock', { transaction });
    const count = await Item.count({ where: { orderId: created.id }, transaction });
    await created.update({ total: count }, { transaction });
    return created;
  });
  await order.reload();
  return order;
}

async function main() {
  await sequelize.sync({ force: true });
  await User.create({ id: 1, name: 'ann' });
  await Product.bulkCreate([1, 2, 3].map((id) => ({ id, stock: 1000 })));
  const server = createServer((req, res) => {
    statements = 0;
    checkout().then(
      (order) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ statements, total: order.total }));
      },
      (error) => {
        res.statusCode = 500;
        res.end(String(error));
      },
    );
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
  process.on('SIGTERM', async () => {
    server.close();
    await Promise.allSettled([User, Product, Order, Item].map((model) => model.drop()));
    await sequelize.close();
    process.exit(0);
  });
}
main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
