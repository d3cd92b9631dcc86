// Named module and chunk ids: the built output then does not depend on the checkout's path,
// so CI can rebuild it and compare with the committed files.
module.exports = {
  optimization: {
    moduleIds: 'named',
    chunkIds: 'named'
  }
};
